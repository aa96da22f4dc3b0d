"""Clinical measurements from a coded segmentation: volumes (mL), masses (g), percentages."""
from __future__ import annotations

from typing import Dict, Optional

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


def pv_weighted_infarct(image: np.ndarray, codes: np.ndarray, grid: Grid) -> Optional[Dict[str, object]]:
    """The partial-volume-weighted infarct size (Heiberg et al., 2008): every voxel of the infarct
    and gray zone counts with w = (I - remote mean) / (infarct core mean - remote mean), clipped to
    [0, 1], MVO with 1. Remote = the healthy myocardium of the result; core = the scar voxels whose
    in-plane neighbours are all scar (all scar voxels when none are). None without scar or healthy
    myocardium, or when the core is not brighter than the remote."""
    from scipy import ndimage as ndi

    from .masks import in_plane_structure

    scar, healthy = codes == L.SCAR, codes == L.MYOCARDIUM
    if not scar.any() or not healthy.any():
        return None
    core = ndi.binary_erosion(scar, in_plane_structure(grid.spacing))
    core = core if core.any() else scar
    image = np.asarray(image, dtype=np.float64)
    remote, bright = float(image[healthy].mean()), float(image[core].mean())
    if bright <= remote:
        return None
    region = scar | (codes == L.GRAYZONE)
    weights = np.clip((image[region] - remote) / (bright - remote), 0.0, 1.0)
    v = grid.voxel_volume_ml
    ml = (float(weights.sum()) + float((codes == L.MVO).sum())) * v
    lv = float(np.isin(codes, L.LV_MYOCARDIUM_CODES).sum()) * v
    return {"ml": ml, "percent": 100.0 * ml / lv if lv > 0 else 0.0, "remote_mean": remote, "core_mean": bright,
            "method": "Heiberg 2008: infarct and gray-zone voxels weighted by (I - remote) / (core - remote), MVO 1"}
