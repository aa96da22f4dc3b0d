"""Per-voxel features for the scar classifiers (SVM, KNN, random forest, MLP).

Every feature is normalised against the case itself (remote myocardium, blood, distances in mm),
so a model trained on one scanner's scale works on another's.
"""
from __future__ import annotations

import numpy as np

from ..lazy import ndi
from ..masks import slice_axis
from .base import ScarInput
from .common import local_mean
from .reference import around_wall, blood_level, cavity, remote_stats

FEATURES = ("z_remote", "blood_fraction", "z_local3", "local_sd3", "z_regional10", "z_outside_neighbours",
            "transmural_depth", "endo_distance_mm", "fraction_of_wall_max")


def _sizes(spacing, size):
    axis = slice_axis(spacing)
    s = [size] * 3
    if axis is not None:
        s[axis] = 1
    return s


def voxel_features(inp: ScarInput) -> np.ndarray:
    """(N, len(FEATURES)) float32 for the wall voxels, in ``np.nonzero(inp.myocardium)`` order.

    Computed on the wall's bounding box + 4 voxels: every feature looks only that far outside
    the wall (the 10-mm regional mean averages wall voxels only)."""
    return _features(around_wall(inp, 4)[1])


def _features(inp: ScarInput) -> np.ndarray:
    image, wall = inp.image.astype(np.float32), inp.myocardium
    mean, sd = remote_stats(inp)
    blood = blood_level(inp)
    wall_max = float(np.percentile(image[wall], 99))
    if blood is None or blood <= mean:
        blood = wall_max
    z = (image - mean) / sd
    size3 = _sizes(inp.spacing, 3)
    w = wall.astype(np.float32)
    cnt = ndi.uniform_filter(w, size=size3, mode="constant")
    m1 = ndi.uniform_filter(image * w, size=size3, mode="constant") / np.maximum(cnt, 1e-6)
    m2 = ndi.uniform_filter(image * image * w, size=size3, mode="constant") / np.maximum(cnt, 1e-6)
    local_sd = np.sqrt(np.maximum(m2 - m1 * m1, 0.0))
    regional = local_mean(image, wall, inp.spacing, 10.0)
    out = 1.0 - w
    ocnt = ndi.uniform_filter(out, size=size3, mode="constant")
    omean = ndi.uniform_filter(image * out, size=size3, mode="constant") / np.maximum(ocnt, 1e-6)
    outside_z = np.where(ocnt > 1e-3, (omean - mean) / sd, 0.0)
    sampling = inp.grid.spacing_kji
    cav = cavity(inp)
    d_endo = ndi.distance_transform_edt(~cav, sampling=sampling) if cav.any() else np.full(wall.shape, 10.0)
    d_epi = ndi.distance_transform_edt(wall | cav, sampling=sampling)
    depth = d_endo / np.maximum(d_endo + d_epi, 1e-6)
    idx = np.nonzero(wall)
    cols = [z[idx], ((image[idx] - mean) / (blood - mean)), ((m1[idx] - mean) / sd), local_sd[idx] / sd,
            (regional[idx] - mean) / sd, outside_z[idx], depth[idx], np.minimum(d_endo[idx], 20.0),
            image[idx] / max(wall_max, 1e-6)]
    return np.stack(cols, axis=1).astype(np.float32)
