"""Reference signals every scar method needs: remote-myocardium statistics, the LV cavity and
the blood signal. Computed once per run and cached on the ScarInput."""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np

from ..errors import InputError
from ..lazy import ndi
from ..masks import bounding_box, erode_borders, plane_structure, slice_axis
from .base import ScarInput
from .common import automatic_remote


def stats_axis(statistics: str, spacing) -> Optional[int]:
    """Numpy axis for per-slice statistics, or None for whole-volume statistics."""
    if statistics == "volume":
        return None
    axis = slice_axis(spacing)
    if statistics == "slice" and axis is None:
        return 0  # per k-slice, as stored
    return axis


# The automatic remote ROI's share of the (border-eroded) wall unless a method sets its own.
REMOTE_FRACTION = 0.25


def remote_mask(inp: ScarInput, fraction: float = REMOTE_FRACTION, axis: Optional[int] = None) -> Tuple[np.ndarray, str]:
    """The user's remote mask (inside the wall), or the automatic proposal; returns (mask, source)."""
    if inp.remote is not None:
        remote = inp.remote & inp.myocardium
        if remote.sum() < 10:
            raise InputError("--remote: the remote-myocardium mask has fewer than 10 voxels inside the myocardium")
        return remote, "user"
    key = f"remote:{fraction}:{axis}"
    return inp.cached(key, lambda: automatic_remote(inp.image, inp.myocardium, inp.spacing, fraction,
                                                    per_slice_axis=axis)), "automatic"


def remote_stats(inp: ScarInput) -> Tuple[float, float]:
    """Volume-level mean and SD of remote myocardium (default automatic ROI or the user's)."""
    def compute():
        mask, _ = remote_mask(inp)
        v = inp.image[mask]
        if v.size < 2:
            v = inp.image[inp.myocardium]
        return float(v.mean()), float(max(v.std(ddof=1), 1e-6))
    return inp.cached("remote_stats", compute)


def remote_reference(inp: ScarInput, statistics: str, fraction: float, warnings) -> Tuple[np.ndarray, np.ndarray, Dict]:
    """Mean and SD of remote myocardium, broadcastable to the image: global, or per slice (each
    slice's own mean, the median of the slices' SDs)."""
    axis = stats_axis(statistics, inp.spacing)
    remote, source = remote_mask(inp, fraction, axis)
    image, myo = inp.image, inp.myocardium
    values = image[remote]
    g_mean = float(values.mean())
    g_sd = float(values.std(ddof=1)) if values.size > 1 else 0.0
    shape = [1, 1, 1]
    if axis is None:
        mean = np.full(shape, g_mean, dtype=np.float32)
        sd = np.full(shape, g_sd, dtype=np.float32)
    else:
        n = image.shape[axis]
        shape[axis] = n
        mean = np.full(n, g_mean, dtype=np.float32)
        sd = np.full(n, g_sd, dtype=np.float32)
        fallback, slice_sds = 0, []
        for s in range(n):
            index = [slice(None)] * 3
            index[axis] = s
            v = image[tuple(index)][remote[tuple(index)]]
            if v.size >= 20:
                mean[s] = v.mean()
                slice_sds.append((s, float(v.std(ddof=1))))
            elif myo[tuple(index)].any():
                fallback += 1
        # Each slice keeps its own mean (slices exported with their own window or coil shading
        # shift it), but the spread is the median of the slices' SDs: one slice's SD from a few
        # dozen remote voxels is noisy, and a slice whose remote ROI caught enhancement raised
        # its threshold past the scar (n-SD: second phantom style's training labels 0.655 ->
        # 0.678, EMIDEC's training exams 0.565 -> 0.604, its healthy exams' mean 4.9 -> 5.5 %).
        if slice_sds:
            sd[[s for s, _ in slice_sds]] = float(np.median([v for _, v in slice_sds]))
        if fallback:
            warnings.append(f"{fallback} slice(s) had fewer than 20 remote voxels; volume statistics used there")
        mean, sd = mean.reshape(shape), sd.reshape(shape)
    info = {"remote_source": source, "remote_voxels": int(remote.sum()), "remote_mean": g_mean,
            "remote_sd": g_sd, "per_slice": axis is not None}
    return mean, sd, info


def cavity(inp: ScarInput) -> np.ndarray:
    """The LV cavity: the given blood pool, else the holes of the wall filled slice by slice
    along each axis (the base may be open in 3D, so a 3D fill would find nothing)."""
    def compute():
        if inp.bloodpool is not None and inp.bloodpool.any():
            return inp.bloodpool & ~inp.myocardium
        filled = np.zeros_like(inp.myocardium)
        axes = [slice_axis(inp.spacing)] if slice_axis(inp.spacing) is not None else range(3)
        for axis in axes:
            filled |= ndi.binary_fill_holes(inp.myocardium, structure=plane_structure(axis))
        return filled & ~inp.myocardium
    return inp.cached("cavity", compute)


def blood_level(inp: ScarInput) -> Optional[float]:
    """Median signal of the cavity away from the wall (None when no cavity is found)."""
    def compute():
        cav = cavity(inp)
        core = erode_borders(cav, inp.spacing, min_voxels=20)
        v = inp.image[core]
        return float(np.median(v)) if v.size >= 20 else None
    return inp.cached("blood_level", compute)


def around_wall(inp: ScarInput, margin: int = 4) -> Tuple[Tuple[slice, ...], ScarInput]:
    """(box, the input cropped to the wall's bounding box + ``margin`` voxels). Made once per
    margin, so the post-processing and the classifier features share one crop and its cached
    cavity and blood level; the remote statistics of the full input carry over."""
    def make():
        box = bounding_box(inp.myocardium, (margin,) * 3)
        sub = ScarInput(image=inp.image[box], myocardium=inp.myocardium[box], grid=inp.grid,
                        remote=inp.remote[box] if inp.remote is not None else None,
                        bloodpool=inp.bloodpool[box] if inp.bloodpool is not None else None,
                        progress=inp.progress, device=inp.device)
        sub._cache["remote_stats"] = remote_stats(inp)
        return box, sub
    return inp.cached(f"around_wall:{margin}", make)
