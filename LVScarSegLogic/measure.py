"""Clinical measurements from a coded segmentation: volumes (mL), masses (g), percentages."""
from __future__ import annotations

from typing import Dict

import numpy as np

from . import labels as L
from .geometry import Grid

MYOCARDIAL_DENSITY_G_PER_ML = 1.05


def volumes(codes: np.ndarray, grid: Grid) -> Dict[str, object]:
    """Volumes and masses per the contract: infarct = scar + MVO; LV myocardium = all wall codes."""
    counts = np.bincount(codes.ravel(), minlength=6)
    v = grid.voxel_volume_ml
    lv = float(sum(counts[c] for c in L.LV_MYOCARDIUM_CODES)) * v
    infarct = float(counts[L.SCAR] + counts[L.MVO]) * v
    grayzone = float(counts[L.GRAYZONE]) * v
    return {
        "volumes_ml": {
            "lv_myocardium": lv,
            "scar": infarct,
            "scar_without_mvo": float(counts[L.SCAR]) * v,
            "mvo": float(counts[L.MVO]) * v,
            "grayzone": grayzone,
            "bloodpool": float(counts[L.BLOODPOOL]) * v,
            "healthy_myocardium": float(counts[L.MYOCARDIUM]) * v,
        },
        "lv_mass_g": lv * MYOCARDIAL_DENSITY_G_PER_ML,
        "scar_mass_g": infarct * MYOCARDIAL_DENSITY_G_PER_ML,
        "scar_percent": 100.0 * infarct / lv if lv > 0 else 0.0,
        "grayzone_percent": 100.0 * grayzone / lv if lv > 0 else 0.0,
    }
