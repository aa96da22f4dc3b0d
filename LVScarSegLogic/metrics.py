"""Segmentation agreement metrics with physical spacing (EMIDEC / medpy conventions).

- dice: 3D foreground Dice; both masks empty -> 1.0, one empty -> 0.0.
- hd_mm: symmetric Hausdorff distance (maximum) between surfaces.
- hd95_mm: 95th percentile of the surface distances of both directions pooled (medpy hd95).
- assd_mm: mean of the two directed average surface distances (medpy assd).
- avd_ml: absolute volume difference in mL.
Surfaces are mask voxels with a 6-neighbour outside the mask. Distances are undefined
(None) when exactly one mask is empty; both empty gives 0.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
from scipy import ndimage as ndi

from . import labels as L
from .geometry import spacing_kji
from .masks import bounding_box, dice

_SIX = ndi.generate_binary_structure(3, 1)




def _surface(mask: np.ndarray) -> np.ndarray:
    return mask & ~ndi.binary_erosion(mask, structure=_SIX, border_value=0)


def _directed_distances(a_surface: np.ndarray, b_surface: np.ndarray, sampling) -> np.ndarray:
    dt = ndi.distance_transform_edt(~b_surface, sampling=sampling)
    return dt[a_surface]


def surface_distances(a: np.ndarray, b: np.ndarray, spacing_ijk: Sequence[float]):
    """Directed surface distances (a->b, b->a) in mm, on the union's bounding box (fast)."""
    box = bounding_box(a | b, (1, 1, 1))
    a_c = np.pad(a[box], 1)
    b_c = np.pad(b[box], 1)
    sampling = spacing_kji(spacing_ijk)
    sa, sb = _surface(a_c), _surface(b_c)
    return _directed_distances(sa, sb, sampling), _directed_distances(sb, sa, sampling)


def compare_masks(pred: np.ndarray, ref: np.ndarray, spacing_ijk: Sequence[float]) -> Dict[str, Optional[float]]:
    pred = np.asarray(pred, dtype=bool)
    ref = np.asarray(ref, dtype=bool)
    voxel_ml = float(np.prod(spacing_ijk)) / 1000.0
    out: Dict[str, Optional[float]] = {
        "dice": dice(pred, ref),
        "avd_ml": abs(int(pred.sum()) - int(ref.sum())) * voxel_ml,
        "volume_pred_ml": int(pred.sum()) * voxel_ml,
        "volume_ref_ml": int(ref.sum()) * voxel_ml,
    }
    if not pred.any() and not ref.any():
        out.update(hd_mm=0.0, hd95_mm=0.0, assd_mm=0.0)
    elif not pred.any() or not ref.any():
        out.update(hd_mm=None, hd95_mm=None, assd_mm=None)
    else:
        d_pr, d_rp = surface_distances(pred, ref, spacing_ijk)
        pooled = np.concatenate([d_pr, d_rp])
        out.update(hd_mm=float(pooled.max()), hd95_mm=float(np.percentile(pooled, 95)),
                   assd_mm=float((d_pr.mean() + d_rp.mean()) / 2.0))
    return out


def evaluate_codes(pred: np.ndarray, ref: np.ndarray, spacing_ijk) -> Dict[str, Dict[str, Optional[float]]]:
    """Per structure: ``myocardium`` (whole LV wall), ``scar`` (infarct = scar + MVO) and
    ``mvo`` when either segmentation has MVO."""
    result = {
        "myocardium": compare_masks(L.lv_myocardium(pred), L.lv_myocardium(ref), spacing_ijk),
        "scar": compare_masks(L.infarct(pred), L.infarct(ref), spacing_ijk),
    }
    if (pred == L.MVO).any() or (ref == L.MVO).any():
        result["mvo"] = compare_masks(pred == L.MVO, ref == L.MVO, spacing_ijk)
    return result
