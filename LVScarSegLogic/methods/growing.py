"""Seeded region growing: confidence-connected growth inside the wall."""
from __future__ import annotations

from typing import Dict

import numpy as np

from ..masks import components_touching
from .base import ScarInput, ScarResult
from .reference import remote_stats
from .threshold import seed_mask


def region_growing(inp: ScarInput, multiplier: float, iterations: int, floor_sd: float, core_sd: float,
                   variant: str = "enhanced") -> ScarResult:
    """Grow from seeds (user points or automatic enhanced cores) to connected wall voxels whose
    signal lies within mean +- ``multiplier`` x SD of the growing region; the statistics are
    re-estimated ``iterations`` times (the rule of ITK's ConfidenceConnected filter, restricted
    to the wall so that growth can never leave it). Deviation: the lower bound never drops below
    remote mean + ``floor_sd`` SD; without it the growing region's SD widens with every voxel of
    gray zone and partial volume it takes in, and growth runs into healthy myocardium.
    ``variant`` "textbook": ITK's rule as it is (no floor), none of the shared post-processing."""
    warnings = []
    info: Dict[str, object] = {"multiplier": multiplier, "iterations": iterations}
    seeds = seed_mask(inp, core_sd, info, warnings)
    if seeds is None:
        return ScarResult(scar=np.zeros_like(inp.myocardium), info=info, warnings=warnings)
    inp.progress(0.5, "region growing")
    image, wall = inp.image, inp.myocardium
    values = image[seeds]
    mean, sd = float(values.mean()), float(values.std()) if values.size > 1 else 0.0
    r_mean, r_sd = remote_stats(inp)
    floor = r_mean + floor_sd * r_sd if variant != "textbook" else -np.inf
    region = seeds
    for _ in range(int(iterations) + 1):
        lo, hi = max(mean - multiplier * sd, floor), mean + multiplier * sd
        region = components_touching(wall & (image >= lo) & (image <= hi), seeds) | seeds
        values = image[region]
        mean, sd = float(values.mean()), float(values.std())
    info.update({"seed_voxels": int(seeds.sum()), "final_mean": mean, "final_sd": sd})
    return ScarResult(scar=region, info=info, warnings=warnings)
