"""Shared helpers for scar methods: cropping to the myocardium, remote-myocardium statistics,
connected components. All arrays are (k, j, i); spacing is (i, j, k) in mm."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
from scipy import ndimage as ndi

from ..geometry import thick_slice_axis

FULL_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)


def spacing_kji(spacing_ijk: Sequence[float]) -> np.ndarray:
    return np.asarray(spacing_ijk, dtype=float)[::-1]


def bounding_box(mask: np.ndarray, margin: Sequence[int] = (0, 0, 0)) -> Tuple[slice, slice, slice]:
    """Slices of the smallest box holding ``mask``, widened by ``margin`` voxels per axis (k, j, i)."""
    out = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        idx = np.nonzero(mask.any(axis=other))[0]
        lo = max(int(idx[0]) - int(margin[axis]), 0)
        hi = min(int(idx[-1]) + int(margin[axis]) + 1, mask.shape[axis])
        out.append(slice(lo, hi))
    return tuple(out)


def slice_axis(spacing_ijk: Sequence[float]) -> Optional[int]:
    """The numpy axis of thick slices in a 2D multi-slice stack, or None for a 3D volume.

    A stack's slice spacing exceeds 2.5x its in-plane spacing (e.g. 1.4 x 1.4 x 8 mm)."""
    return thick_slice_axis(spacing_ijk, 2.5)


def plane_structure(axis: int) -> np.ndarray:
    """4-neighbour structure in the plane across numpy ``axis`` (3x3x3)."""
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[tuple(1 if a == axis else slice(None) for a in range(3))] = ndi.generate_binary_structure(2, 1)
    return structure


def in_plane_structure(spacing_ijk) -> np.ndarray:
    """6-neighbour structure, without the slice-axis neighbours in a thick-slice stack."""
    axis = slice_axis(spacing_ijk)
    return ndi.generate_binary_structure(3, 1) if axis is None else plane_structure(axis)


def erode_borders(mask: np.ndarray, spacing_ijk, min_voxels: int = 50) -> np.ndarray:
    """Remove one voxel from the wall's borders along axes finer than 2.5 mm (avoids partial
    volume with blood and fat); keeps the mask as it is when too little would remain."""
    sp = spacing_kji(spacing_ijk)
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1, 1, 1] = True
    for axis in range(3):
        if sp[axis] <= 2.5:
            index = [1, 1, 1]
            for v in (0, 2):
                index[axis] = v
                structure[tuple(index)] = True
    eroded = ndi.binary_erosion(mask, structure=structure)
    return eroded if eroded.sum() >= min_voxels else mask


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


def components_touching(mask: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Connected components (26-connectivity) of ``mask`` that contain a voxel of ``seeds``."""
    labels, n = ndi.label(mask, structure=FULL_CONNECTIVITY)
    if n == 0:
        return np.zeros_like(mask)
    hit = np.unique(labels[seeds & mask])
    hit = hit[hit != 0]
    return np.isin(labels, hit)


def remove_small(mask: np.ndarray, min_voxels: int) -> np.ndarray:
    labels, n = ndi.label(mask, structure=FULL_CONNECTIVITY)
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_voxels
    keep[0] = False
    return keep[labels]
