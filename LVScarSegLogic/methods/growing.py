"""Seeded region growing: confidence-connected growth inside the wall."""
from __future__ import annotations

from typing import Dict

import numpy as np

from ..masks import components_touching
from .base import ScarInput, ScarResult
from .common_params import CORE_SD, VARIANT
from .declare import scar_method
from .reference import remote_stats
from .registry import Param
from .threshold import seed_mask


@scar_method(
    name="region-growing",
    family="region growing",
    summary="Seeded confidence-connected region growing inside the wall, from user seeds or automatic "
            "enhanced cores.",
    doc="Confidence-connected growth (ITK's rule: within mean ± `multiplier` SD of the region, "
        "re-estimated) from seeds or automatic cores, inside the wall. Deviation: never below remote + "
        "`floor_sd` SD, or the region's SD widens with every gray-zone voxel and growth runs into healthy "
        "wall; and never below `floor_fraction` of the way from remote to the seeds' mean (FWHM's half "
        "maximum: where the noise is low, an SD floor lets growth into the gray zone).",
    params=(
        Param("multiplier", "float", 2.5, "Include neighbours within mean +- multiplier x SD of the region.",
              min=0.5, max=6.0),
        Param("iterations", "int", 3, "Times the region's mean and SD are re-estimated.", min=0, max=20),
        Param("floor_sd", "float", 3.0, "Growth never enters signal below remote mean + this many SD.",
              min=0.0, max=8.0),
        Param("floor_fraction", "float", 0.5, "Growth never enters signal below remote mean + this fraction of "
              "(seeds' mean - remote mean); 0 turns it off.", min=0.0, max=0.9),
        CORE_SD,
        VARIANT,
    ),
    optional_inputs=("seeds", "remote"),
    reference="ITK ConfidenceConnectedImageFilter; region growing as in Karim 2016",
)
def region_growing(inp: ScarInput, multiplier: float, iterations: int, floor_sd: float, core_sd: float,
                   floor_fraction: float = 0.5, variant: str = "enhanced") -> ScarResult:
    """Grow from seeds (user points or automatic enhanced cores) to connected wall voxels whose
    signal lies within mean +- ``multiplier`` x SD of the growing region; the statistics are
    re-estimated ``iterations`` times (the rule of ITK's ConfidenceConnected filter, restricted
    to the wall so that growth can never leave it). Deviation: the lower bound never drops below
    remote mean + ``floor_sd`` SD; without it the growing region's SD widens with every voxel of
    gray zone and partial volume it takes in, and growth runs into healthy myocardium. Nor below
    ``floor_fraction`` of the way from the remote mean to the seeds' mean: where the noise is low
    the SD floor sits in the gray zone (second phantom style drawn at CNR 12-30, observer wall:
    0.64 -> 0.67; at CNR 3-12 0.778 -> 0.788; EMIDEC's training exams, expert wall, 0.617 ->
    0.628; this project's phantoms 0.554 -> 0.565). Seed voxels below the floor are left out
    (automatic cores come from the smoothed signal and reach into the wall next to an infarct).
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
    # (floor_sd and floor_fraction are >= 0: each floor at 0 is the remote mean, below the other)
    floor = (max(r_mean + floor_sd * r_sd, r_mean + floor_fraction * (mean - r_mean))
             if variant != "textbook" else -np.inf)
    # Automatic cores are found on the smoothed signal, which spreads an infarct's brightness
    # into the healthy wall next to it: those seed voxels below the floor joined the region and
    # widened its SD, and growth leaked (second style at CNR 12-30: 1.5-2x the true infarct).
    bright = seeds & (image >= floor)
    if bright.any() and not bright.all():
        seeds = bright
        values = image[seeds]
        mean, sd = float(values.mean()), float(values.std()) if values.size > 1 else 0.0
    region = seeds
    for _ in range(int(iterations) + 1):
        lo, hi = max(mean - multiplier * sd, floor), mean + multiplier * sd
        region = components_touching(wall & (image >= lo) & (image <= hi), seeds) | seeds
        values = image[region]
        mean, sd = float(values.mean()), float(values.std())
    info.update({"seed_voxels": int(seeds.sum()), "final_mean": mean, "final_sd": sd})
    return ScarResult(scar=region, info=info, warnings=warnings)
