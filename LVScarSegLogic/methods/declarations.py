"""Declarations of every method the engine offers (names, parameters, defaults).

Only implemented methods are declared here; a method appears in ``lvscarseg methods`` when
its code exists and is tested.
"""
from .registry import Method, Param, register

_SLICE_MODE = Param(
    "statistics", "choice", "auto",
    "Remote-myocardium statistics per slice (as in Bondarenko 2005, for 2D stacks), for the whole "
    "volume, or auto: per slice when the slices are thicker than 2.5x the in-plane spacing.",
    choices=("auto", "slice", "volume"))

register(Method(
    name="strm", target="scar", family="threshold",
    summary="n-SD: scar = voxels brighter than mean + n x SD of remote (healthy) myocardium.",
    entry="threshold:strm",
    params=(
        Param("n", "float", 5.0, "Number of standard deviations above the remote mean (5 SD matched "
              "visual analysis in Bondarenko 2005; 2 SD overestimates).", min=2.0, max=6.0),
        _SLICE_MODE,
        Param("remote_fraction", "float", 0.25, "Automatic remote ROI: the fraction of the (border-eroded) "
              "myocardium with the lowest local mean signal.", min=0.05, max=0.6),
    ),
    needs=("myocardium",), optional_inputs=("remote",),
    reference="Amado 2004 JACC 44:2383; Bondarenko 2005 JCMR 7:481; Karim 2016 MedIA 30:95",
))

register(Method(
    name="fwhm", target="scar", family="threshold",
    summary="Full width at half maximum: scar = voxels above a fraction of the maximum of the enhanced "
            "region, grown from seeds (user seeds or automatically found enhanced cores).",
    entry="threshold:fwhm",
    params=(
        Param("fraction", "float", 0.5, "Threshold as a fraction of the enhanced region's maximum "
              "(0.5 = FWHM).", min=0.2, max=0.8),
        Param("max_percentile", "float", 99.0, "Percentile of the enhanced region taken as its maximum; "
              "100 is the textbook maximum, below 100 keeps one noise spike from setting the threshold.",
              min=90.0, max=100.0),
        Param("core_sd", "float", 5.0, "Automatic cores: smoothed signal above remote mean + this many "
              "SD. Also the test that an enhanced region exists at all (healthy myocardium: no scar).",
              min=2.0, max=10.0),
    ),
    needs=("myocardium",), optional_inputs=("seeds", "remote"),
    reference="Amado 2004 JACC 44:2383 (figure legend); Karim 2016 MedIA 30:95",
), default=True)  # best of the two on the phantom benchmark (benchmarks/README)
