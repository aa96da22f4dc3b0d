"""Running a scar method: crop to the wall, call the method, apply the shared post-processing,
paste the result back onto the full image grid."""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from ..geometry import Grid, spacing_kji
from ..masks import bounding_box
from .base import ScarInput, ScarResult
from .common_params import COMMON_NAMES
from .postprocess import finalize
from .registry import Method


def crop_box(wall: np.ndarray, spacing, margin_mm: float = 12.0):
    sp = spacing_kji(spacing)
    return bounding_box(wall, [int(np.ceil(margin_mm / s)) for s in sp])


def run_scar_method(method: Method, image: np.ndarray, wall: np.ndarray, grid: Grid, params: Dict,
                    seeds: Sequence[Tuple[int, int, int]] = (), remote: Optional[np.ndarray] = None,
                    bloodpool: Optional[np.ndarray] = None, progress=lambda f, m: None,
                    device: str = "auto", wall_given: bool = True) -> ScarResult:
    """``image`` float32 and masks bool, all (k, j, i) on ``grid``; seeds are (k, j, i) voxels."""
    box = crop_box(wall, grid.spacing)
    start = [s.start for s in box]
    origin = grid.ijk_to_lps_points([[start[2], start[1], start[0]]])[0]
    crop_grid = Grid.make(tuple(s.stop - s.start for s in box), grid.spacing, origin, grid.direction_matrix)
    inp = ScarInput(
        image=np.ascontiguousarray(image[box], dtype=np.float32), myocardium=wall[box], grid=crop_grid,
        seeds=[(k - start[0], j - start[1], i - start[2]) for k, j, i in seeds],
        remote=remote[box] if remote is not None else None,
        bloodpool=bloodpool[box] if bloodpool is not None else None, progress=progress, device=device,
        wall_given=wall_given)
    # the shared post-processing is for methods that declare all of it; the networks declare one
    # of its parameters (basal_check) and apply it themselves
    shared = set(COMMON_NAMES) if set(COMMON_NAMES) <= {p.name for p in method.params} else set()
    own = {k: v for k, v in params.items() if k not in shared}
    common = {k: v for k, v in params.items() if k in shared}
    result = method.function()(inp, **own)
    if own.get("variant") == "textbook":  # the literature's form: no post-processing of ours
        common = {}
    if common:
        progress(0.8, "post-processing: border guard, significance, MVO")
        result = finalize(inp, result, **common)

    def paste(mask):
        if mask is None:
            return None
        out = np.zeros(wall.shape, dtype=mask.dtype)
        out[box] = mask
        return out

    return ScarResult(scar=paste(result.scar), grayzone=paste(result.grayzone), mvo=paste(result.mvo),
                      info=result.info, warnings=result.warnings, uncertainty=paste(result.uncertainty))
