"""Declarations of every method the engine offers (names, parameters, defaults).

Only implemented methods are declared here; a method appears in ``lvscarseg methods`` when
its code exists and is tested. Every classical scar method also takes the shared
post-processing parameters of postprocess.COMMON_PARAMS.
"""

from .common_params import COMMON_PARAMS
from .registry import Method, Param, register, set_default

_SLICE_MODE = Param(
    "statistics", "choice", "auto",
    "Remote-myocardium statistics per slice (as in Bondarenko 2005, for 2D stacks), for the whole "
    "volume, or auto: per slice when the slices are thicker than 2.5x the in-plane spacing.",
    choices=("auto", "slice", "volume"))
_VARIANT = Param("variant", "choice", "enhanced",
                 "enhanced: this project's form (stated deviations, shared post-processing); textbook: the exact "
                 "literature form, without any of the shared post-processing (for comparison).",
                 choices=("enhanced", "textbook"))
_CORE_SD = Param("core_sd", "float", 5.0, "Automatic seeds: enhanced cores whose smoothed signal exceeds remote "
                 "mean + this many SD (no core, no scar).", min=2.0, max=10.0)


# The defaults are chosen on data this project did not make (issue 16), not on its phantoms.
# Without PyTorch: ewa, the best classical method on EMIDEC's held-out exams with the expert wall
# (infarct Dice 0.66; otsu 0.63, random-forest 0.63, strm 0.60) and on the second phantom style
# (0.83; otsu 0.82) - benchmarks/results/emidec/ewa.md. With PyTorch and MONAI: the CMPU-Net scar
# stage, whose `best` model set scores 0.74 on those EMIDEC exams (benchmarks/results/deep/).
DEFAULT_SCAR_METHOD = "ewa"
DEFAULT_DEEP_SCAR_METHOD = "cmpunet"


def _scar(default=False, common=True, **kw):
    # common: the classical methods share the post-processing of postprocess.py; the networks
    # predict MVO and the wall's border themselves and skip it.
    kw["params"] = tuple(kw.get("params", ())) + (COMMON_PARAMS if common else ())
    kw.setdefault("needs", ("myocardium",))
    register(Method(target="scar", **kw), default=default)


_scar(
    name="strm", family="threshold",
    summary="n-SD: scar = voxels brighter than mean + n x SD of remote (healthy) myocardium; gray zone "
            "between gray_n and n SD.",
    doc="n-SD: scar > remote mean + n SD, gray zone from `gray_n` SD. Remote: `--remote MASK`, or "
        "proposed automatically (border-eroded wall with the lowest 10 mm local mean: healthy-looking "
        "myocardium away from enhancement and edges). Statistics per slice (2D stacks, Bondarenko 2005) "
        "or per volume.",
    entry="threshold:strm",
    params=(
        Param("n", "float", 5.0, "Number of standard deviations above the remote mean (5 SD matched "
              "visual analysis in Bondarenko 2005; 2 SD overestimates).", min=2.0, max=6.0),
        Param("gray_n", "float", 3.0, "Gray zone from this many SD up to n SD (2-3 SD is the peri-infarct "
              "zone in the literature); >= n disables it.", min=1.0, max=6.0),
        _SLICE_MODE,
        Param("remote_fraction", "float", 0.25, "Automatic remote ROI: the fraction of the (border-eroded) "
              "myocardium with the lowest local mean signal.", min=0.05, max=0.6),
        _VARIANT,
    ),
    optional_inputs=("remote",),
    reference="Amado 2004 JACC 44:2383; Bondarenko 2005 JCMR 7:481; Karim 2016 MedIA 30:95",
)

_scar(
    name="fwhm", family="threshold",
    summary="Full width at half maximum: scar = voxels above a fraction of the maximum of the enhanced "
            "region, grown from seeds (user seeds or automatically found enhanced cores).",
    doc="Amado 2004: grow the region above 50 % of the seed signal, take its maximum MX, scar = wall ≥ "
        "`fraction` × MX connected to a seed; gray zone from `gray_fraction` × MX. Seeds: `--seed` points "
        "or automatic enhanced cores (3-voxel local mean above remote + `core_sd` SD); no core, no scar. "
        "Deviation: MX is the 99th percentile of the region (`max_percentile=100` is the textbook "
        "maximum).",
    entry="threshold:fwhm",
    params=(
        Param("fraction", "float", 0.5, "Threshold as a fraction of the enhanced region's maximum "
              "(0.5 = FWHM).", min=0.2, max=0.8),
        Param("gray_fraction", "float", 0.35, "Gray zone from this fraction of the maximum up to `fraction` "
              "(35-50 % in the literature); >= fraction disables it.", min=0.1, max=0.8),
        Param("max_percentile", "float", 99.0, "Percentile of the enhanced region taken as its maximum; "
              "100 is the textbook maximum, below 100 keeps one noise spike from setting the threshold.",
              min=90.0, max=100.0),
        _CORE_SD,
        _VARIANT,
    ),
    optional_inputs=("seeds", "remote"),
    reference="Amado 2004 JACC 44:2383 (figure legend); Karim 2016 MedIA 30:95",
)

_scar(
    name="otsu", family="threshold",
    summary="Otsu's automatic threshold on the myocardium's intensity histogram.",
    doc="Otsu's threshold of the wall histogram (middle of the optimal plateau).",
    entry="threshold:otsu",
    params=(_VARIANT,),
    optional_inputs=("remote",),
    reference="Otsu 1979; compared with n-SD and FWHM in BMC Res Notes 2015 8:95",
)

_scar(
    name="region-growing", family="region growing",
    summary="Seeded confidence-connected region growing inside the wall, from user seeds or automatic "
            "enhanced cores.",
    doc="Confidence-connected growth (ITK's rule: within mean ± `multiplier` SD of the region, "
        "re-estimated) from seeds or automatic cores, inside the wall. Deviation: never below remote + "
        "`floor_sd` SD, or the region's SD widens with every gray-zone voxel and growth runs into healthy "
        "wall.",
    entry="growing:region_growing",
    params=(
        Param("multiplier", "float", 2.5, "Include neighbours within mean +- multiplier x SD of the region.",
              min=0.5, max=6.0),
        Param("iterations", "int", 3, "Times the region's mean and SD are re-estimated.", min=0, max=20),
        Param("floor_sd", "float", 3.0, "Growth never enters signal below remote mean + this many SD.",
              min=0.0, max=8.0),
        _CORE_SD,
        _VARIANT,
    ),
    optional_inputs=("seeds", "remote"),
    reference="ITK ConfidenceConnectedImageFilter; region growing as in Karim 2016",
)

_scar(
    name="kmeans", family="clustering",
    summary="k-means on the wall's intensities: 2 clusters (remote / scar) or 3 (remote / gray zone / scar).",
    doc="1D k-means of the wall: 2 clusters, or 3 (remote / gray zone / scar).",
    entry="clustering:kmeans",
    params=(Param("clusters", "int", 3, "2: remote and scar; 3: remote, gray zone and scar.", min=2, max=3),),
    reference="Lloyd 1982; lecture's clustering baseline",
)

_scar(
    name="gmm", family="clustering",
    summary="EM mixture model of the wall's intensities (Gaussian or Rician healthy class); scar above the "
            "brightest class mean or by posterior.",
    doc="EM mixture (Karim 2016 \"MV\"): Gaussian or Rician healthy class (auto: lower BIC); seeds above "
        "the brightest class mean grown over voxels of that class, or posterior rule; 3 components give a "
        "gray zone.",
    entry="clustering:gmm",
    params=(
        Param("components", "int", 2, "2: healthy and scar; 3: healthy, gray zone and scar.", min=2, max=3),
        Param("distribution", "choice", "auto", "Healthy class Gaussian, Rician, or auto (lower BIC).",
              choices=("auto", "gaussian", "rician")),
        Param("rule", "choice", "mean", "mean: seeds above the brightest class's mean grown over the voxels "
              "most probably in that class (Karim 2016 'MV'); posterior: every voxel most probably in the "
              "brightest class.", choices=("mean", "posterior")),
    ),
    reference="Karim 2016 MedIA 30:95 (Hennemuth's EM method)",
)

# min_weight 0.6 was chosen on EMIDEC's training exams with the old two-voxel border guard off (it scored
# 0.49 there at every min_weight). With the one-voxel in-plane guard, on again: EMIDEC training exams
# 0.64 -> 0.63 infarct Dice but healthy exams 27 -> 19 % mean; label phantoms from the training labels
# 0.77 -> 0.80, healthy worst 4.5 -> 0.9 % (benchmarks/results/emidec/ewa.md).
_scar(
    name="ewa", family="clustering",
    summary="EWA-style (Engblom 2016): EM threshold between healthy and enhanced myocardium, partial-volume "
            "weights, infarct regions reaching the endocardium.",
    doc="After Engblom 2016 (Segment's auto scar), our reading of it: a two-class EM of the wall (healthy "
        "Rician or Gaussian by BIC), candidates more probably enhanced; partial-volume weight (I - healthy) / "
        "(core - healthy), voxels below `min_weight` dropped; a region not touching the endocardium dropped "
        "(`endocardial`), then the shared post-processing.",
    entry="ewa:ewa",
    params=(
        Param("min_weight", "float", 0.6, "Partial-volume weight below which an enhanced-looking voxel is not "
              "scar (0: every EM candidate); 0.6 chosen on EMIDEC's training exams.", min=0.0, max=1.0),
        Param("endocardial", "bool", True, "Keep only infarct regions that touch the endocardium (ischaemic "
              "scar starts there)."),
    ),
    reference="Engblom 2016 JCMR 18:27; Heiberg 2008 (partial-volume weighting)",
    default=DEFAULT_SCAR_METHOD == "ewa",
)

_scar(
    name="graphcut", family="graph",
    summary="Min-cut/max-flow on the 3D voxel graph: mixture-likelihood data terms and contrast-weighted Potts "
            "smoothness; hierarchical: healthy / gray zone / scar.",
    doc="Min-cut/max-flow on the 3D voxel graph (PyMaxflow): mixture-likelihood data terms, "
        "contrast-weighted Potts smoothness; `hierarchical` adds a second cut healthy → gray zone / scar, "
        "in the spirit of Rajchl 2014's hierarchical max-flow.",
    entry="graphcut:graphcut",
    params=(
        Param("smoothness", "float", 1.0, "Weight of the Potts smoothness term (0 = per-voxel maximum "
              "likelihood).", min=0.0, max=20.0),
        Param("hierarchical", "bool", False, "Second cut inside the enhanced region: gray zone versus scar "
              "(in the spirit of Rajchl 2014's hierarchical max-flow)."),
        Param("distribution", "choice", "gaussian", "Healthy class model for the data term.",
              choices=("gaussian", "rician")),
    ),
    reference="Boykov & Kolmogorov 2004; Rajchl 2014 IEEE TMI 33:159; Karim 2016 (KCL graph cuts)",
)

_scar(
    name="levelset", family="active contour",
    summary="Chan-Vese active contour by morphological level sets inside the wall.",
    doc="Chan–Vese by morphological level sets (scikit-image) inside the wall, started above remote + "
        "`init_sd` SD; 2D stacks slice by slice.",
    entry="levelset:levelset",
    params=(
        Param("iterations", "int", 15, "Level-set iterations (the contour settles within about 12 on phantoms).",
              min=1, max=500),
        Param("smoothing", "int", 1, "Curvature smoothing steps per iteration.", min=0, max=4),
        Param("init_sd", "float", 3.0, "Initial contour: voxels above remote mean + this many SD.",
              min=1.0, max=8.0),
    ),
    reference="Chan & Vese 2001; Marquez-Neila 2014 (morphological snakes)",
)

_MODEL = Param("model", "path", "", "A model file from `lvscarseg train-classifier` (.safetensors with its .json "
               "manifest beside it); empty: the shipped model trained on phantoms.")
# what every classifier shares; the README says more about the features under the method table
_CLASSIFIER_DOC = ("Voxel classifier (healthy / gray zone / scar) on 9 per-case-normalised features. The shipped model "
                   "was trained on 16 phantoms (true and observer walls, seed 9000); `--param model=` takes one from "
                   "`lvscarseg train-classifier`.")
for _name, _entry, _summary, _ref in (
        ("svm", "svm", "Support-vector machine (RBF kernel, one-vs-rest)", "Cortes & Vapnik 1995"),
        ("knn", "knn", "k-nearest neighbours (k = 15)", "lecture's KNN baseline (Zabihollahy 2019 comparison)"),
        ("random-forest", "random_forest", "Random forest (40 trees)", "Breiman 2001"),
        ("mlp", "mlp", "Multilayer perceptron (32-16 hidden units)", "lecture's ANN")):
    _scar(
        name=_name, family="classifier",
        summary=f"{_summary} on per-voxel features (signal against remote and blood, local statistics, "
                "transmural depth); healthy / gray zone / scar.",
        doc=_CLASSIFIER_DOC, entry=f"classifiers:{_entry}", params=(_MODEL,), optional_inputs=("remote",),
        reference=_ref,
        default=_name == DEFAULT_SCAR_METHOD,
    )

# --- deep learning (trained models in Resources/Models; see LVScarSegLogic/deep/tasks.py) ---
_TTA = Param("tta", "bool", False, "Test-time augmentation: also predict the mirrored image and average (slower; "
             "gives the disagreement map written by --uncertainty).")
_DL_MODEL = Param("model", "path", "", "A model file from `lvscarseg train` (.safetensors with its .json manifest "
                  "beside it); empty: the shipped model.")
_MIN_INFARCT = Param("min_infarct_mm3", "float", 20.0, "Infarct components smaller than this are dropped (mm^3).",
                     min=0.0, max=5000.0)
_GROW_WALL = Param("grow_wall_voxels", "int", 0, "Opt-in: infarct may reach this many voxels (in-plane) beyond a "
                   "given myocardium where the network calls it infarct (a contour drawn too tight); the report says "
                   "how much was added. 0 (default): the given myocardium is the wall. A wall drawn by a myocardium "
                   "model always allows 1 (the networks were trained for that).", min=0, max=3)
for _name, _summary, _ref in (
        ("cnn", "The lecture's patch CNN: each wall voxel classified from the 21x21-voxel patch around it "
                "(healthy / gray zone / scar / MVO).", "Zabihollahy, White, Ukwatta, Proc SPIE 10575 (2018)"),
        ("unet", "3D residual U-Net (MONAI) on the image and the wall mask: healthy / gray zone / scar / MVO.",
         "Ronneberger 2015; Cicek 2016; MONAI UNet"),
        ("cmpunet", "Cascaded multi-planar U-Net, scar stage: 2D U-Net across the three planes on the image and "
                    "the wall, probabilities averaged.", "Zabihollahy et al., Med Phys 2020 (CMPU-Net)"),
        ("gan", "U-Net generator trained against a CNN discriminator (adversarial + Dice + cross-entropy).",
         "Goodfellow 2014; Isola 2017 (pix2pix); lecture's GAN")):
    _scar(name=_name, family="deep learning", summary=_summary, entry=f"deep_methods:scar_{_name}",
          params=(_TTA, _DL_MODEL, _MIN_INFARCT, _GROW_WALL), needs=("myocardium", "torch"), reference=_ref,
          common=False)

_MYO_PARAMS = (
    Param("myo_tta", "bool", False, "Test-time augmentation for the myocardium network (mirrored predictions "
          "averaged)."),
    Param("myo_model", "path", "", "Myocardium model file from `lvscarseg train`; empty: the shipped one."),
    Param("localizer_model", "path", "", "LV localizer model file; empty: the shipped one."),
    Param("localize", "bool", True, "Find the LV first (3D U-Net at 4 mm) and segment a crop around it; off: "
          "search the whole image (slower; for images already cropped around the heart)."),
)
# The default myocardium model: best myocardium Dice on the held-out phantom benchmark
# (benchmarks/results/deep_*.md).
DEFAULT_MYOCARDIUM_METHOD = "cmpunet"
for _name, _summary in (
        ("unet", "3D residual U-Net (MONAI) on the localized LV crop: blood pool and LV wall."),
        ("cmpunet", "Cascaded multi-planar U-Net, myocardium stage: a 2D U-Net across the three planes, "
                    "probabilities averaged."),
        ("gan", "2D U-Net generator trained against a CNN discriminator.")):
    register(Method(name=_name, target="myocardium", family="deep learning", summary=_summary,
                    entry=f"deep_methods:myocardium_{_name}", params=_MYO_PARAMS, needs=("torch",),
                    reference="LV localized by a 3D U-Net at 4 mm, then the crop at 1.25 mm"),
             default=_name == DEFAULT_MYOCARDIUM_METHOD)


def _deep_learning_installed() -> bool:
    import importlib.util  # find_spec looks for the packages without importing them (no start-up cost)

    return all(importlib.util.find_spec(m) is not None for m in ("torch", "monai"))


if _deep_learning_installed():
    set_default("scar", DEFAULT_DEEP_SCAR_METHOD)
