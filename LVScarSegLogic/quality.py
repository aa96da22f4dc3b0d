"""The quality verdict of a result: can the engine vouch for it?

``assess`` checks a coded segmentation (EMIDEC codes, (k, j, i)) against what a human LV looks
like and against what the run itself reported, and returns ``{"status": "ok" | "uncertain" |
"failed", "reasons": [...]}``. A ``failed`` result is still written, but the command exits with
code 3 and the pictures carry a banner: a number the engine cannot vouch for is never printed as
a confident one. Ranges are deliberately wide (adult hearts, thin infarcted walls, hypertrophy);
they catch results that are not an LV at all, not borderline anatomy.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import labels as L
from .geometry import THICK_SLICE_RATIO, spacing_kji, thick_slice_axis
from .methods.confidence import REVIEW_PHRASE

OK, UNCERTAIN, FAILED = "ok", "uncertain", "failed"
# LV myocardium of adults: about 60-250 mL (mass 65-260 g); a partial stack covers less.
WALL_ML_FAILED = 10.0
WALL_ML_RANGE = (30.0, 400.0)
# Mean wall thickness (mm): 6-12 in health, 2-4 over a thinned transmural scar, up to ~25 in HCM.
THICKNESS_MM_RANGE = (2.0, 25.0)
# A short-axis slice of the LV is a ring around the cavity except at the apex (a cap) and the
# outflow tract: on most slices it should enclose its blood pool.
RING_FRACTION_MIN = 0.5
SCAR_PERCENT_MAX = 75.0
# Warnings that mean the engine doubts where the LV is, or that the inputs do not belong together.
DOUBT_PHRASES = ("does not look like an LV", "found no LV", "check the LV position", "search for the LV stopped")
MISMATCH_PHRASES = ("may be another scan's",)  # segio: a mismatched mask used because of --force
DROPPED_SCAR_PHRASES = (REVIEW_PHRASE,)  # the scar networks' confidence gate dropped much of the wall


def _coarsest_axis(spacing_ijk: Sequence[float]) -> int:
    """The numpy axis (k, j, i) with the largest spacing: the slices of a stack."""
    return int(np.argmax(spacing_kji(spacing_ijk)))


def wall_thickness_mm(wall: np.ndarray, spacing_ijk: Sequence[float]) -> float:
    """Mean wall thickness (mm) from the distance of wall voxels to the nearest non-wall voxel: in a
    slab of thickness t that distance averages t/4 (voxel centres: + half a voxel). In-plane for
    thick-slice stacks, in 3D otherwise."""
    from scipy import ndimage as ndi

    sp = spacing_kji(spacing_ijk)
    axis = thick_slice_axis(spacing_ijk, THICK_SLICE_RATIO)
    if axis is None:
        dist = ndi.distance_transform_edt(wall, sampling=sp)
        pixel = float(sp.mean())
    else:
        in_plane = np.delete(sp, axis)
        dist = np.moveaxis(np.stack([ndi.distance_transform_edt(s, sampling=in_plane)
                                     for s in np.moveaxis(wall, axis, 0)]), 0, axis)
        pixel = float(in_plane.mean())
    return float(4.0 * (dist[wall].mean() - pixel / 2.0))


def ring_fraction(wall: np.ndarray, grid, frame=None, levels: int = 8) -> Tuple[float, int]:
    """(fraction of short-axis levels on which the wall is a closed ring, levels with wall). With
    the LV frame (aha.lv_frame), a level (an eighth of base to apex) is a ring when its wall covers
    at least 11 of 12 30-degree sectors around the long axis, whatever the acquisition plane;
    without it, a slice of the coarsest axis is a ring when it encloses a hole."""
    from scipy import ndimage as ndi

    if frame is not None:
        from .aha import mask_points_lps

        u, phi = frame.coordinates(mask_points_lps(wall, grid))
        level = np.floor(u * levels).astype(int)
        rings, n = 0, 0
        for lv in range(levels):
            at = level == lv
            if at.sum() < 20:
                continue
            n += 1
            rings += np.unique((phi[at] // 30).astype(int)).size >= 11
        return (rings / n if n else 0.0), n
    slices = [s for s in np.moveaxis(wall, _coarsest_axis(grid.spacing), 0) if s.any()]
    rings = sum(bool((ndi.binary_fill_holes(s) & ~s).any()) for s in slices)
    return (rings / len(slices) if slices else 0.0), len(slices)


def assess(codes: np.ndarray, grid, given_myocardium: bool, warnings: Sequence[str] = (),
           details: Optional[Dict[str, object]] = None, frame=None) -> Dict[str, object]:
    """The verdict for a segmentation on ``grid`` (geometry.Grid). ``given_myocardium``: the wall
    is the reader's (its anatomy is theirs to judge; only gross problems are flagged);
    ``warnings`` and ``details`` (the myocardium method's) are what the run reported; ``frame``
    the LV frame (aha.lv_frame), for short-axis levels in any acquisition plane."""
    failed: List[str] = []
    uncertain: List[str] = []
    wall = L.lv_myocardium(codes)
    wall_ml = float(wall.sum() * grid.voxel_volume_ml)
    if wall_ml < WALL_ML_FAILED:
        failed.append(f"LV wall of {wall_ml:.1f} mL: far below any human LV ({WALL_ML_RANGE[0]:g}-"
                      f"{WALL_ML_RANGE[1]:g} mL)")
    elif not WALL_ML_RANGE[0] <= wall_ml <= WALL_ML_RANGE[1]:
        uncertain.append(f"LV wall of {wall_ml:.0f} mL, outside {WALL_ML_RANGE[0]:g}-{WALL_ML_RANGE[1]:g} mL "
                         "(or the stack covers only part of the LV)")
    if wall.any():
        rings, n_levels = ring_fraction(wall, grid, frame)
        if n_levels == 0:
            (uncertain if given_myocardium else failed).append(
                "too little wall on any short-axis level to form a ring around the long axis: not an LV")
        elif rings == 0.0:
            (uncertain if given_myocardium else failed).append(
                f"the wall is a closed ring around the long axis on none of its {n_levels} short-axis levels: "
                "not an LV")
        elif rings < RING_FRACTION_MIN:
            uncertain.append(f"the wall is a closed ring on only {rings:.0%} of its {n_levels} short-axis levels")
        thickness = wall_thickness_mm(wall, grid.spacing)
        if not THICKNESS_MM_RANGE[0] <= thickness <= THICKNESS_MM_RANGE[1]:
            uncertain.append(f"mean wall thickness {thickness:.1f} mm, outside {THICKNESS_MM_RANGE[0]:g}-"
                             f"{THICKNESS_MM_RANGE[1]:g} mm")
        if int(np.count_nonzero(np.moveaxis(wall, _coarsest_axis(grid.spacing), 0).any((1, 2)))) < 2:
            uncertain.append("the LV wall lies on a single slice: volumes and AHA segments are of that slice only")
        scar = float(L.infarct(codes).sum() / wall.sum() * 100.0)
        if scar > SCAR_PERCENT_MAX:
            uncertain.append(f"infarct covers {scar:.0f} % of the wall: check that the image is an LGE scan "
                             "(not a label map or another contrast) and the wall")
    if not given_myocardium:
        if any(p in w for w in warnings for p in DOUBT_PHRASES):
            uncertain.append("the engine is not sure it found the LV (see the warnings); give --lv-center "
                             "or check the wall")
        loc = (details or {}).get("localizer", {}) if isinstance(details, dict) else {}
        if isinstance(loc, dict) and loc.get("lv_plausibility") is not None and loc.get("lv_plausibility") < 0.5:
            uncertain.append(f"the myocardium model's output scores {loc['lv_plausibility']:.2f} as an LV "
                             "(a ring around a blood pool scores over 1)")
    if any(p in w for w in warnings for p in MISMATCH_PHRASES):
        uncertain.append("a mask that looks like another scan's was used (--force): check that it belongs to "
                         "this image")
    if any(p in w for w in warnings for p in DROPPED_SCAR_PHRASES):
        uncertain.append("the scar network dropped a sizeable share of the wall as unconvincing infarct candidates "
                         "(see the warnings): check the scar, or rerun with confidence_gate=0")
    status = FAILED if failed else UNCERTAIN if uncertain else OK
    return {"status": status, "reasons": failed + uncertain}


def banner(quality: Optional[Dict[str, object]]) -> str:
    """The line a picture carries when the result is not ``ok`` ("" when it is)."""
    if not quality or quality.get("status") == OK:
        return ""
    reasons = quality.get("reasons") or []
    head = "FAILED - do not use these numbers" if quality["status"] == FAILED else "UNCERTAIN - check before use"
    return head + (f": {reasons[0]}" if reasons else "")
