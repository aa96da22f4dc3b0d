"""Textbook intensity-threshold scar methods: n-SD (STRM) and FWHM.

Definitions follow ../shared/reference/methods-and-numbers.md section 2. Deviations are
stated where they occur.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np

from ..errors import InputError
from .base import ScarInput, ScarResult
from .common import (automatic_remote, bounding_box, components_touching, erode_borders,
                     local_mean, remove_small, slice_axis)


def _crop(inp: ScarInput, margin_mm: float = 12.0):
    sp = np.asarray(inp.grid.spacing)[::-1]
    margin = [int(np.ceil(margin_mm / s)) for s in sp]
    box = bounding_box(inp.myocardium, margin)
    remote = inp.remote[box] if inp.remote is not None else None
    return box, inp.image[box].astype(np.float32, copy=False), inp.myocardium[box], remote


def _stats_axis(statistics: str, spacing) -> Optional[int]:
    if statistics == "volume":
        return None
    axis = slice_axis(spacing)
    if statistics == "slice" and axis is None:
        return 0  # per k-slice, as stored
    return axis


def remote_reference(image, myo, remote, spacing, statistics: str, fraction: float,
                     warnings) -> Tuple[np.ndarray, np.ndarray, np.ndarray, Dict[str, object]]:
    """Mean and SD of remote myocardium, broadcastable to the image (per slice or global).

    Returns (mean, sd, remote_mask, info). A user remote mask wins over the automatic proposal.
    """
    axis = _stats_axis(statistics, spacing)
    if remote is not None:
        remote = remote & myo
        source = "user"
        if remote.sum() < 10:
            raise InputError("--remote: the remote-myocardium mask has fewer than 10 voxels inside the myocardium")
    else:
        remote = automatic_remote(image, myo, spacing, fraction, per_slice_axis=axis)
        source = "automatic"
    values = image[remote]
    g_mean, g_sd = float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0
    shape = [1, 1, 1]
    if axis is None:
        mean = np.full(shape, g_mean, dtype=np.float32)
        sd = np.full(shape, g_sd, dtype=np.float32)
        per_slice = False
    else:
        n = image.shape[axis]
        shape[axis] = n
        mean = np.full(n, g_mean, dtype=np.float32)
        sd = np.full(n, g_sd, dtype=np.float32)
        fallback = 0
        for s in range(n):
            index = [slice(None)] * 3
            index[axis] = s
            v = image[tuple(index)][remote[tuple(index)]]
            if v.size >= 20:
                mean[s], sd[s] = v.mean(), v.std(ddof=1)
            elif myo[tuple(index)].any():
                fallback += 1
        if fallback:
            warnings.append(f"{fallback} slice(s) had fewer than 20 remote voxels; volume statistics used there")
        mean, sd = mean.reshape(shape), sd.reshape(shape)
        per_slice = True
    info = {"remote_source": source, "remote_voxels": int(remote.sum()), "remote_mean": g_mean,
            "remote_sd": g_sd, "per_slice": per_slice}
    return mean, sd, remote, info


def strm(inp: ScarInput, n: float, statistics: str, remote_fraction: float) -> ScarResult:
    """n-SD: scar = myocardium voxels with signal > mean_remote + n * SD_remote.

    Remote ROI: the user's mask, or the automatic proposal (border-eroded myocardium with the
    lowest 10 mm local mean). No smoothing or clean-up: the textbook rule.
    """
    box, image, myo, remote = _crop(inp)
    warnings = []
    inp.progress(0.2, "strm: remote myocardium statistics")
    mean, sd, _, info = remote_reference(image, myo, remote, inp.grid.spacing, statistics, remote_fraction, warnings)
    threshold = mean + n * sd
    scar = myo & (image > threshold)
    info.update({"n": n, "threshold": float(np.mean(threshold))})
    out = np.zeros(inp.myocardium.shape, dtype=bool)
    out[box] = scar
    return ScarResult(scar=out, info=info, warnings=warnings)


def fwhm(inp: ScarInput, fraction: float, max_percentile: float, core_sd: float) -> ScarResult:
    """FWHM (Amado 2004): grow the region above 50 % of the seed signal, take its maximum MX,
    scar = myocardium voxels >= fraction * MX connected to a seed.

    Seeds: the user's (RAS points, converted to voxels by the caller) or automatic cores:
    connected regions of the border-eroded wall whose 3-voxel local mean exceeds
    remote mean + core_sd * SD (at least 20 mm^3). No core means no scar.
    Deviation: MX is the ``max_percentile`` percentile of the region (99 by default), not
    its single brightest voxel.
    """
    box, image, myo, remote = _crop(inp)
    warnings = []
    info: Dict[str, object] = {"fraction": fraction, "max_percentile": max_percentile}
    seeds = np.zeros(myo.shape, dtype=bool)
    offset = [s.start for s in box]
    for k, j, i in inp.seeds:
        kk, jj, ii = k - offset[0], j - offset[1], i - offset[2]
        if 0 <= kk < myo.shape[0] and 0 <= jj < myo.shape[1] and 0 <= ii < myo.shape[2] and myo[kk, jj, ii]:
            seeds[kk, jj, ii] = True
    if inp.seeds and not seeds.any():
        raise InputError("--seed: none of the seed points lies inside the myocardium")
    if seeds.any():
        info["seed_source"] = "user"
        if len(inp.seeds) > int(seeds.sum()):
            warnings.append(f"{len(inp.seeds) - int(seeds.sum())} seed point(s) outside the myocardium ignored")
        seed_level = 0.5 * float(np.median(image[seeds]))
    else:
        inp.progress(0.2, "fwhm: looking for enhanced cores")
        mean, sd, _, rinfo = remote_reference(image, myo, remote, inp.grid.spacing, "volume", 0.25, warnings)
        info.update({"remote_mean": rinfo["remote_mean"], "remote_sd": rinfo["remote_sd"]})
        core_region = erode_borders(myo, inp.grid.spacing)
        smooth = local_mean(image, myo, inp.grid.spacing, size_mm=3 * min(inp.grid.spacing))
        min_voxels = max(3, int(np.ceil(20.0 / (inp.grid.voxel_volume_ml * 1000.0))))
        seeds = remove_small(core_region & (smooth > mean + core_sd * sd), min_voxels)
        info["seed_source"] = "automatic"
        if not seeds.any():
            warnings.append("fwhm: no enhanced core found (no region above remote + "
                            f"{core_sd:g} SD); no scar reported")
            info["threshold"] = None
            return ScarResult(scar=np.zeros(inp.myocardium.shape, dtype=bool), info=info, warnings=warnings)
        seed_level = 0.5 * float(np.median(image[seeds]))
    inp.progress(0.5, "fwhm: region growing")
    region = components_touching(myo & (image >= seed_level), seeds)
    mx = float(np.percentile(image[region], max_percentile)) if region.any() else float(image[seeds].max())
    threshold = fraction * mx
    scar = components_touching(myo & (image >= threshold), seeds)
    info.update({"max": mx, "threshold": threshold, "seed_voxels": int(seeds.sum())})
    out = np.zeros(inp.myocardium.shape, dtype=bool)
    out[box] = scar
    return ScarResult(scar=out, info=info, warnings=warnings)
