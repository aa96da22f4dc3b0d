"""Intensity-threshold scar methods: n-SD (STRM), FWHM and Otsu.

Definitions follow ../shared/reference/methods-and-numbers.md section 2; deviations are stated
where they occur. Inputs arrive cropped to the wall (see runner.py).
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from ..errors import InputError
from ..masks import away_from_border, components_touching, erode_borders, remove_small
from .base import ScarInput, ScarResult
from .common import local_mean
from .common_params import CORE_SD, SLICE_STATISTICS, VARIANT
from .declare import scar_method
from .reference import CLIP_SD, remote_reference, remote_stats
from .registry import Param


@scar_method(
    name="strm",
    family="threshold",
    summary="n-SD: scar = voxels brighter than mean + n x SD of remote (healthy) myocardium; gray zone "
            "between gray_n and n SD.",
    doc="n-SD: scar > remote mean + n SD, gray zone from `gray_n` SD. Remote: `--remote MASK`, or "
        "proposed automatically (border-eroded wall with the lowest 10 mm local mean: healthy-looking "
        "myocardium away from enhancement and edges; its mean and SD over the values within 3 SD, iterated, "
        "the SD corrected for the clipping). Statistics per slice (2D stacks, Bondarenko 2005: "
        "each slice's remote mean, the median of the slices' remote SDs) or per volume.",
    params=(
        Param("n", "float", 5.0, "Number of standard deviations above the remote mean (5 SD matched "
              "visual analysis in Bondarenko 2005; 2 SD overestimates).", min=2.0, max=6.0),
        Param("gray_n", "float", 3.0, "Gray zone from this many SD up to n SD (2-3 SD is the peri-infarct "
              "zone in the literature); >= n disables it.", min=1.0, max=6.0),
        SLICE_STATISTICS,
        Param("remote_fraction", "float", 0.25, "Automatic remote ROI: the fraction of the (border-eroded) "
              "myocardium with the lowest local mean signal.", min=0.05, max=0.6),
        VARIANT,
    ),
    optional_inputs=("remote",),
    reference="Amado 2004 JACC 44:2383; Bondarenko 2005 JCMR 7:481; Karim 2016 MedIA 30:95",
)
def strm(inp: ScarInput, n: float, gray_n: float, statistics: str, remote_fraction: float,
         variant: str = "enhanced") -> ScarResult:
    """n-SD: scar = wall voxels with signal > mean_remote + n * SD_remote; gray zone between
    ``gray_n`` and ``n`` SD. Remote ROI: the user's mask or the automatic proposal (border-eroded
    wall with the lowest 10 mm local mean, per slice for 2D stacks, where each slice has its own
    mean and all share the median of the slices' SDs). ``variant`` "textbook": one
    remote ROI for the whole volume and none of the shared post-processing (the runner skips it)."""
    warnings = []
    if variant == "textbook":
        statistics = "volume"
    inp.progress(0.2, "strm: remote myocardium statistics")
    # the textbook form keeps the plain ROI (a reader's, in the literature)
    clip = CLIP_SD if variant != "textbook" else 0.0
    mean, sd, info = remote_reference(inp, statistics, remote_fraction, warnings, clip=clip)
    image, myo = inp.image, inp.myocardium
    threshold = mean + n * sd
    scar = myo & (image > threshold)
    gray = myo & (image > mean + gray_n * sd) & ~scar if gray_n < n else None
    info.update({"n": n, "threshold": float(np.mean(threshold))})
    return ScarResult(scar=scar, grayzone=gray, info=info, warnings=warnings)


def enhanced_cores(inp: ScarInput, core_sd: float) -> np.ndarray:
    """Automatic seeds: connected regions of the border-eroded wall whose 3-voxel local mean
    exceeds remote mean + core_sd * SD, at least 20 mm^3 each."""
    mean, sd = remote_stats(inp)
    core_region = erode_borders(inp.myocardium, inp.spacing)
    smooth = local_mean(inp.image, inp.myocardium, inp.spacing, size_mm=3 * min(inp.spacing))
    min_voxels = max(3, int(np.ceil(20.0 / (inp.grid.voxel_volume_ml * 1000.0))))
    return remove_small(core_region & (smooth > mean + core_sd * sd), min_voxels)


def seed_mask(inp: ScarInput, core_sd: float, info: Dict[str, object], warnings) -> Optional[np.ndarray]:
    """User seeds inside the wall, else automatic enhanced cores; None when there is no core."""
    myo = inp.myocardium
    seeds = np.zeros(myo.shape, dtype=bool)
    for k, j, i in inp.seeds:
        if 0 <= k < myo.shape[0] and 0 <= j < myo.shape[1] and 0 <= i < myo.shape[2] and myo[k, j, i]:
            seeds[k, j, i] = True
    if inp.seeds:
        if not seeds.any():
            raise InputError("--seed: none of the seed points lies inside the myocardium")
        if len(inp.seeds) > int(seeds.sum()):
            warnings.append(f"{len(inp.seeds) - int(seeds.sum())} seed point(s) outside the myocardium ignored")
        info["seed_source"] = "user"
        return seeds
    info["seed_source"] = "automatic"
    inp.progress(0.2, "looking for enhanced cores")
    seeds = enhanced_cores(inp, core_sd)
    if not seeds.any():
        warnings.append(f"no enhanced core found (no region above remote + {core_sd:g} SD); no scar reported")
        return None
    return seeds


@scar_method(
    name="fwhm",
    family="threshold",
    summary="Full width at half maximum: scar = voxels above a fraction of the maximum of the enhanced "
            "region, grown from seeds (user seeds or automatically found enhanced cores).",
    doc="Amado 2004: grow the region above 50 % of the seed signal, take its maximum MX, scar = wall ≥ "
        "`fraction` × MX connected to a seed; gray zone from `gray_fraction` × MX. Seeds: `--seed` points "
        "or automatic enhanced cores (3-voxel local mean above remote + `core_sd` SD); no core, no scar. "
        "Deviations: MX is the 99th percentile of the region away from the wall's borders "
        "(`max_percentile=100` is the textbook maximum), and the threshold is never below remote + "
        "`floor_sd` SD.",
    params=(
        Param("fraction", "float", 0.5, "Threshold as a fraction of the enhanced region's maximum "
              "(0.5 = FWHM).", min=0.2, max=0.8),
        Param("gray_fraction", "float", 0.35, "Gray zone from this fraction of the maximum up to `fraction` "
              "(35-50 % in the literature); >= fraction disables it.", min=0.1, max=0.8),
        Param("max_percentile", "float", 99.0, "Percentile of the enhanced region taken as its maximum; "
              "100 is the textbook maximum, below 100 keeps one noise spike from setting the threshold.",
              min=90.0, max=100.0),
        Param("floor_sd", "float", 3.0, "The threshold is never below remote mean + this many SD (0: no "
              "floor): where the enhanced region's maximum is low (a healthy heart, a faint scar), half of "
              "it lies inside healthy wall.", min=0.0, max=8.0),
        CORE_SD,
        VARIANT,
    ),
    optional_inputs=("seeds", "remote"),
    reference="Amado 2004 JACC 44:2383 (figure legend); Karim 2016 MedIA 30:95",
)
def fwhm(inp: ScarInput, fraction: float, gray_fraction: float, max_percentile: float, core_sd: float,
         variant: str = "enhanced", floor_sd: float = 3.0) -> ScarResult:
    """FWHM (Amado 2004): grow the region above 50 % of the seed signal, take its maximum MX,
    scar = wall voxels >= fraction * MX connected to a seed; gray zone between
    ``gray_fraction`` and ``fraction`` of MX, next to the scar.
    Deviations, each measured on data this project did not make (second phantom style, training
    labels / EMIDEC training exams, infarct Dice): MX is the ``max_percentile`` percentile (99 by
    default) of the region *away from the wall's borders*, not its single brightest voxel, so that
    neither one noise spike nor the epicardial fat or blood inside a contour drawn a voxel wide
    sets it (0.765 -> 0.790; such a voxel twice as bright as the scar left one infarct 0.09); and
    the threshold is never below remote mean + ``floor_sd`` SD, the floor region growing has too
    (EMIDEC 0.16 -> 0.58, where half the maximum lay inside healthy wall; healthy walls of the
    phantom style worst 8.9 -> 4.7 % with the border-free maximum).
    ``variant`` "textbook": the automatic literature form, FWHM(max): MX is the brightest voxel of
    the wall (of the region grown from user seeds when given), scar = every wall voxel >= fraction
    * MX, no connectivity, none of the shared post-processing."""
    warnings = []
    image, myo = inp.image, inp.myocardium
    info: Dict[str, object] = {"fraction": fraction, "max_percentile": max_percentile, "variant": variant}
    if variant == "textbook" and not inp.seeds:
        mx = float(image[myo].max()) if myo.any() else 0.0
        scar = myo & (image >= fraction * mx)
        gray = myo & (image >= gray_fraction * mx) & ~scar if gray_fraction < fraction else None
        info.update({"max": mx, "threshold": fraction * mx, "seed_source": "none (wall maximum)"})
        return ScarResult(scar=scar, grayzone=gray, info=info, warnings=warnings)
    if variant == "textbook":
        max_percentile = 100.0
    seeds = seed_mask(inp, core_sd, info, warnings)
    if seeds is None:
        info["threshold"] = None
        return ScarResult(scar=np.zeros_like(myo), info=info, warnings=warnings)
    seed_level = 0.5 * float(np.median(image[seeds]))
    inp.progress(0.5, "fwhm: region growing")
    region = components_touching(myo & (image >= seed_level), seeds)
    inner = region & away_from_border(myo, inp.spacing) if variant != "textbook" else region
    mx = float(np.percentile(image[inner], max_percentile)) if inner.any() else float(image[seeds].max())
    threshold = fraction * mx
    if variant != "textbook" and floor_sd > 0:
        r_mean, r_sd = remote_stats(inp)
        threshold = max(threshold, r_mean + floor_sd * r_sd)
    scar = components_touching(myo & (image >= threshold), seeds)
    gray = None
    if gray_fraction < fraction:
        gray = myo & (image >= gray_fraction * mx) & ~scar
    info.update({"max": mx, "threshold": threshold, "seed_voxels": int(seeds.sum())})
    return ScarResult(scar=scar, grayzone=gray, info=info, warnings=warnings)


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu (1979): the threshold maximising the between-class variance of the histogram (the
    middle of the maximising bins when several tie)."""
    hist, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    s0 = np.cumsum(hist * centres)
    m0 = s0 / np.maximum(w0, 1)
    m1 = (s0[-1] - s0) / np.maximum(w1, 1)
    between = (w0 * w1 * (m0 - m1) ** 2)[:-1]
    # Every threshold in an empty gap between two modes is optimal: take the plateau's middle.
    best = np.flatnonzero(between >= between.max() * (1 - 1e-9))
    return float(edges[1:][best[len(best) // 2]])


@scar_method(
    name="otsu",
    family="threshold",
    summary="Otsu's automatic threshold on the myocardium's intensity histogram.",
    doc="Otsu's threshold of the wall histogram (middle of the optimal plateau).",
    params=(VARIANT,),
    optional_inputs=("remote",),
    reference="Otsu 1979; compared with n-SD and FWHM in BMC Res Notes 2015 8:95",
)
def otsu(inp: ScarInput, variant: str = "enhanced") -> ScarResult:
    """Otsu's threshold on the wall's intensity histogram. It always splits the histogram in two,
    so in a healthy heart it relies on the shared significance test to report no scar (which the
    "textbook" variant, without the shared post-processing, does not have)."""
    values = inp.image[inp.myocardium]
    t = otsu_threshold(values)
    return ScarResult(scar=inp.myocardium & (inp.image > t), info={"threshold": t})
