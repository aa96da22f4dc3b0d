"""Shared helpers for scar methods on the image: local means and the automatic remote
myocardium. All arrays are (k, j, i); spacing is (i, j, k) in mm. Mask helpers are in ../masks.py."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..geometry import spacing_kji
from ..lazy import ndi
from ..masks import erode_borders


def local_mean(image: np.ndarray, mask: np.ndarray, spacing_ijk, size_mm: float) -> np.ndarray:
    """Mean of ``image`` over the mask within a box of ``size_mm`` around each voxel (normalized
    box filter: O(N) whatever the box size)."""
    sp = spacing_kji(spacing_ijk)
    size = [max(1, int(round(size_mm / s)) | 1) for s in sp]
    m = mask.astype(np.float32)
    num = ndi.uniform_filter(image * m, size=size, mode="constant")
    den = ndi.uniform_filter(m, size=size, mode="constant")
    return num / np.maximum(den, 1e-6)


def automatic_remote(image: np.ndarray, myocardium: np.ndarray, spacing_ijk, fraction: float,
                     per_slice_axis: Optional[int] = None, box_mm: float = 10.0) -> np.ndarray:
    """Propose remote (healthy) myocardium: border-eroded wall whose 10 mm local mean is among the
    lowest ``fraction``, per slice when ``per_slice_axis`` is given (remote taken from the same slice)."""
    core = erode_borders(myocardium, spacing_ijk)
    smooth = local_mean(image, myocardium, spacing_ijk, box_mm)
    remote = np.zeros_like(myocardium)
    if per_slice_axis is None:
        values = smooth[core]
        if values.size:
            remote = core & (smooth <= np.quantile(values, fraction))
        return remote
    for s in range(image.shape[per_slice_axis]):
        index = [slice(None)] * 3
        index[per_slice_axis] = s
        index = tuple(index)
        values = smooth[index][core[index]]
        if values.size:
            remote[index] = core[index] & (smooth[index] <= np.quantile(values, fraction))
    return remote


