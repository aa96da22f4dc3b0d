"""Preprocessing shared by training and inference: resampling between an input crop and the
working grid, robust intensity normalization, and crop boxes.

Arrays are (k, j, i) as everywhere in the engine; spacings are given in the same (k, j, i)
order here (``grid.spacing[::-1]``). Resampling keeps the input's own voxel axes (no
rotation), so going to the working grid and back is a pure per-axis scaling of voxel centres
(``align_corners=False``): a voxel's physical extent is preserved exactly.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F


def working_shape(shape: Sequence[int], spacing_kji: Sequence[float], target_mm) -> Tuple[int, ...]:
    """Voxels per axis on the working grid covering the same extent (at least 1); ``target_mm``
    is one spacing for every axis or one per axis (k, j, i)."""
    targets = np.broadcast_to(np.asarray(target_mm, dtype=float), (len(shape),))
    return tuple(max(1, int(round(n * s / t))) for n, s, t in zip(shape, spacing_kji, targets))


def resample(volume: torch.Tensor, shape: Sequence[int], mode: str = "linear") -> torch.Tensor:
    """Resample (C, k, j, i) or (k, j, i) to ``shape``. mode: "linear" (images, probabilities) or
    "nearest" (labels; centre-aligned)."""
    squeeze = volume.dim() == 3
    x = volume[None, None] if squeeze else volume[None]
    if tuple(x.shape[2:]) != tuple(shape):
        if mode == "linear":
            x = F.interpolate(x.float(), size=tuple(shape), mode="trilinear", align_corners=False)
        else:
            x = F.interpolate(x.float(), size=tuple(shape), mode="nearest-exact").to(volume.dtype)
    return x[0, 0] if squeeze else x[0]


def normalize(image: np.ndarray, low_pct: float = 1.0, high_pct: float = 99.5) -> np.ndarray:
    """Map the image's robust intensity range to about [0, 1] (float32), clipped to [-0.5, 2].

    LGE has no absolute intensity scale: percentiles of the region the network sees (the LV crop,
    or the whole field of view for the localizer) make scans from different scanners comparable."""
    sample = image.reshape(-1)
    if sample.size > 2_000_000:  # percentiles of a strided sample: same value, a fraction of the time
        sample = sample[:: sample.size // 1_000_000]
    lo, hi = np.percentile(sample, [low_pct, high_pct])
    scale = hi - lo if hi > lo else 1.0
    return np.clip((image.astype(np.float32) - lo) / scale, -0.5, 2.0).astype(np.float32)


def box_around(mask: np.ndarray, spacing_kji: Sequence[float], margin_mm) -> Tuple[slice, ...]:
    """Bounding box of ``mask`` plus ``margin_mm`` (a number or one per axis), clipped to the array."""
    idx = np.nonzero(mask)
    margins = np.broadcast_to(np.asarray(margin_mm, dtype=float), (3,))
    out = []
    for ax in range(3):
        m = int(np.ceil(margins[ax] / spacing_kji[ax]))
        lo, hi = int(idx[ax].min()) - m, int(idx[ax].max()) + 1 + m
        out.append(slice(max(lo, 0), min(hi, mask.shape[ax])))
    return tuple(out)


def pad_to_multiple(x: torch.Tensor, multiple: int, dims: int) -> Tuple[torch.Tensor, Tuple[slice, ...]]:
    """Zero-pad the last ``dims`` axes of x up to a multiple (U-Nets halve the size 3 times);
    returns the padded tensor and the slices that undo it."""
    pads, undo = [], []
    for n in x.shape[-dims:]:
        extra = (-n) % multiple
        pads.append((extra // 2, extra - extra // 2))
        undo.append(slice(extra // 2, extra // 2 + n))
    flat = [p for pair in reversed(pads) for p in pair]
    return F.pad(x, flat), tuple(undo)
