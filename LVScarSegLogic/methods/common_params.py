"""Parameters shared by several methods: the post-processing every classical scar method gets
(see postprocess.py), and a few that several methods declare.

Kept apart from postprocess.py so that reading the declarations imports no scipy.
"""
from typing import Tuple

from .registry import Param

# Also declared by the scar networks, which apply it themselves (deep_methods.py).
BASAL_CHECK = Param("basal_check", "bool", True,
                    "Thick-slice stacks (slices at most 12 mm apart): drop scar on the basal slice with no scar "
                    "under it on the next slice (oblique partial volume next to the outflow tract and atrium; "
                    "the report says how much).")

COMMON_PARAMS: Tuple[Param, ...] = (
    Param("endo_guard", "bool", True,
          "Drop scar in the wall's border voxels (1.5 mm deep, in-plane: one voxel at 1.5 mm pixels) that is no brighter than the brightest "
          "neighbouring blood or fat + 0.5 remote SD: partial volume, or a contour drawn too wide. In thick-slice "
          "stacks a border voxel with scar right behind it stays (infarct as bright as the blood next to it)."),
    Param("min_contrast_sd", "float", 3.0,
          "Keep a scar component only if its mean signal exceeds remote mean + this many SD "
          "(0 keeps all; thick-slice stacks: each slice's components against that slice's remote mean). "
          "Stops histogram-splitting methods from calling healthy myocardium scar.",
          min=0.0, max=10.0),
    Param("min_blood_fraction", "float", 0.5,
          "Keep a scar component only if its mean signal lies at least this fraction of the way from the "
          "remote mean to the blood pool's (where the blood is brighter than remote + 3 SD; thick-slice stacks: "
          "from that slice's remote mean; 0 keeps all). Where the noise is low an SD test passes healthy wall.",
          min=0.0, max=1.0),
    Param("min_size_mm3", "float", 20.0, "Remove scar components smaller than this volume (mm^3).",
          min=0.0, max=2000.0),
    Param("epi_rim", "float", 0.5,
          "Drop a scar component with at least this fraction of its voxels in the wall's outer border voxels "
          "(thick-slice stacks: in-plane components, on slices with a cavity): bright epicardial fat inside a "
          "contour drawn a voxel wide, not infarct, which grows from the endocardium (0 turns this off).",
          min=0.0, max=1.0),
    BASAL_CHECK,
    Param("detect_mvo", "bool", True,
          "Label dark cores enclosed by enhancement (and the cavity) as MVO; MVO counts as infarct."),
    Param("repair_voxels", "int", 0,
          "Contour repair (opt-in): let scar extend up to this many voxels (in-plane) beyond the given myocardium "
          "where the signal is scar-like and brighter than blood (a contour drawn a voxel too tight); the report "
          "says how much was added. 0 (default): the given myocardium is the wall, voxel for voxel.",
          min=0, max=3),
)
COMMON_NAMES = tuple(p.name for p in COMMON_PARAMS)

# --- declared by several methods ---
SLICE_STATISTICS = Param(
    "statistics", "choice", "auto",
    "Remote-myocardium statistics per slice (as in Bondarenko 2005, for 2D stacks), for the whole "
    "volume, or auto: per slice when the slices are thicker than 2.5x the in-plane spacing.",
    choices=("auto", "slice", "volume"))
VARIANT = Param("variant", "choice", "enhanced",
                "enhanced: this project's form (stated deviations, shared post-processing); textbook: the exact "
                "literature form, without any of the shared post-processing (for comparison).",
                choices=("enhanced", "textbook"))
# 5 SD found no core in low-contrast hearts, which then got no scar at all (the second phantom
# style's training labels: FWHM 0.73 -> 0.77, region growing 0.73 -> 0.75; EMIDEC training exams
# FWHM unchanged, region growing 0.56 -> 0.58; our own phantoms 0.01-0.04 less). The shared
# significance test (min_contrast_sd, 3 SD) still judges every component grown from a core.
CORE_SD = Param("core_sd", "float", 3.5, "Automatic seeds: enhanced cores whose smoothed signal exceeds remote "
                "mean + this many SD (no core, no scar).", min=2.0, max=10.0)
