"""Parameters of the post-processing every scar method gets (see postprocess.py).

Kept apart from postprocess.py so that reading the registry imports neither numpy nor scipy.
"""
from typing import Tuple

from .registry import Param

COMMON_PARAMS: Tuple[Param, ...] = (
    Param("endo_guard", "bool", True,
          "Drop scar in the wall's border voxels (one voxel, in-plane) that is no brighter than the brightest "
          "neighbouring blood or fat + 0.5 remote SD: partial volume, or a contour drawn too wide."),
    Param("min_contrast_sd", "float", 3.0,
          "Keep a scar component only if its mean signal exceeds remote mean + this many SD "
          "(0 keeps all). Stops histogram-splitting methods from calling healthy myocardium scar.",
          min=0.0, max=10.0),
    Param("min_size_mm3", "float", 20.0, "Remove scar components smaller than this volume (mm^3).",
          min=0.0, max=2000.0),
    Param("detect_mvo", "bool", True,
          "Label dark cores enclosed by enhancement (and the cavity) as MVO; MVO counts as infarct."),
    Param("repair_voxels", "int", 0,
          "Contour repair (opt-in): let scar extend up to this many voxels (in-plane) beyond the given myocardium "
          "where the signal is scar-like and brighter than blood (a contour drawn a voxel too tight); the report "
          "says how much was added. 0 (default): the given myocardium is the wall, voxel for voxel.",
          min=0, max=3),
)
COMMON_NAMES = tuple(p.name for p in COMMON_PARAMS)
