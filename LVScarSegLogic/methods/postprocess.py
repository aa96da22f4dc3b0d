"""What every scar method gets around it (issue: "around all of them"):

1. endocardial/epicardial border guard: a wall voxel next to bright blood or fat whose signal
   is no brighter than those neighbours is partial volume, not scar;
2. significance: a scar component whose mean signal is not clearly above remote myocardium
   is noise (this is what keeps histogram-splitting methods quiet in healthy hearts);
3. small components are removed;
4. MVO: a dark core enclosed by enhancement (and the cavity) is labelled MVO, which counts as
   infarct; a gray zone is kept only where it borders scar.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np
from scipy import ndimage as ndi

from .base import ScarInput, ScarResult
from .common import FULL_CONNECTIVITY, remove_small, slice_axis
from .reference import cavity, remote_stats
from .registry import Param

COMMON_PARAMS: Tuple[Param, ...] = (
    Param("endo_guard", "bool", True,
          "Drop scar on the wall's border whose signal is explained by partial volume with bright "
          "neighbouring blood or fat (not brighter than their local mean + 1 remote SD)."),
    Param("min_contrast_sd", "float", 3.0,
          "Keep a scar component only if its mean signal exceeds remote mean + this many SD "
          "(0 keeps all). Stops histogram-splitting methods from calling healthy myocardium scar.",
          min=0.0, max=10.0),
    Param("min_size_mm3", "float", 20.0, "Remove scar components smaller than this volume (mm^3).",
          min=0.0, max=2000.0),
    Param("detect_mvo", "bool", True,
          "Label dark cores enclosed by enhancement (and the cavity) as MVO; MVO counts as infarct."),
)
COMMON_NAMES = tuple(p.name for p in COMMON_PARAMS)


def _in_plane_size(spacing, size: int = 3):
    axis = slice_axis(spacing)
    s = [size] * 3
    if axis is not None:
        s[axis] = 1
    return s


def border_guard(inp: ScarInput, mask: np.ndarray, sd: float) -> np.ndarray:
    """Voxels of ``mask`` on the wall's border that are no brighter than their non-wall
    neighbours' mean + 1 SD (blood or fat partial volume)."""
    wall = inp.myocardium
    outside = ~wall
    size = _in_plane_size(inp.spacing)
    count = ndi.uniform_filter(outside.astype(np.float32), size=size, mode="nearest")
    border = wall & (count > 0)
    total = ndi.uniform_filter(np.where(outside, inp.image, 0).astype(np.float32), size=size, mode="nearest")
    neighbour_mean = total / np.maximum(count, 1e-6)
    return mask & border & (inp.image <= neighbour_mean + sd)


def significant(inp: ScarInput, scar: np.ndarray, mean: float, sd: float, k: float) -> np.ndarray:
    labels, n = ndi.label(scar, structure=FULL_CONNECTIVITY)
    if n == 0 or k <= 0:
        return scar
    index = np.arange(1, n + 1)
    means = ndi.mean(inp.image, labels, index)
    keep = np.zeros(n + 1, dtype=bool)
    keep[1:] = means > mean + k * sd
    return keep[labels]


def find_mvo(inp: ScarInput, enhanced: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """Components of dark wall enclosed by enhancement and cavity (<= 10 % other neighbours)."""
    wall = inp.myocardium
    candidates = wall & ~enhanced
    labels, n = ndi.label(candidates, structure=FULL_CONNECTIVITY)
    if n == 0 or not enhanced.any():
        return np.zeros_like(wall)
    cav = cavity(inp)
    enhanced_volume = int(enhanced.sum())
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    mvo = np.zeros_like(wall)
    for lab in np.nonzero((sizes > 0) & (sizes <= 0.5 * enhanced_volume))[0]:
        if lab == 0:
            continue
        box = ndi.find_objects((labels == lab).astype(np.uint8))[0]
        grown = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in box)
        comp = labels[grown] == lab
        ring = ndi.binary_dilation(comp, structure=FULL_CONNECTIVITY) & ~comp
        enclosed = (enhanced[grown] | cav[grown])[ring]
        if enclosed.size and enclosed.mean() >= 0.9 and inp.image[grown][comp].mean() < mean + 2.0 * sd:
            mvo[grown] |= comp
    return mvo


def finalize(inp: ScarInput, result: ScarResult, endo_guard: bool, min_contrast_sd: float, min_size_mm3: float,
             detect_mvo: bool) -> ScarResult:
    wall = inp.myocardium
    scar = result.scar & wall
    gray = (result.grayzone & wall & ~scar) if result.grayzone is not None else None
    mean, sd = remote_stats(inp)
    info = dict(result.info)
    if endo_guard:
        dropped = border_guard(inp, scar, sd)
        scar &= ~dropped
        if gray is not None:
            gray &= ~border_guard(inp, gray, sd)
        info["border_voxels_dropped"] = int(dropped.sum())
    if min_contrast_sd > 0:
        scar = significant(inp, scar, mean, sd, min_contrast_sd)
    voxel_mm3 = inp.grid.voxel_volume_ml * 1000.0
    if min_size_mm3 > 0:
        scar = remove_small(scar, max(1, int(np.ceil(min_size_mm3 / voxel_mm3))))
    mvo = None
    if detect_mvo and scar.any():
        enhanced = scar | (gray if gray is not None else False)
        mvo = find_mvo(inp, enhanced, mean, sd)
        if result.mvo is not None:
            mvo |= result.mvo & wall
        info["mvo_voxels"] = int(mvo.sum())
    if gray is not None:
        # A gray zone is peri-infarct: keep the parts that touch the scar.
        labels, n = ndi.label(gray, structure=FULL_CONNECTIVITY)
        touching = np.unique(labels[ndi.binary_dilation(scar, structure=FULL_CONNECTIVITY) & gray])
        gray = np.isin(labels, touching[touching > 0])
    return ScarResult(scar=scar, grayzone=gray, mvo=mvo, info=info, warnings=list(result.warnings))
