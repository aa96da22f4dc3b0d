"""One ventricle: a myocardium network's output trimmed to the LV when it also drew a second
cavity (the RV, found as a second blood pool with a wall around it).

On EMIDEC's 68 training exams the default myocardium model drew the RV as a second "LV" in 13
(blood pool and wall around it, joined to the LV through the septum); the scar network then
called the RV's "wall" infarct. Arrays are (k, j, i) class maps (0 background, 1 blood pool,
2 wall); spacings in k, j, i order (mm).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy import ndimage as ndi

from ..masks import FULL_CONNECTIVITY, components_touching, plane_connectivity

# A cavity component is a candidate for the LV when it is at least this fraction of the largest
# one (on its slice in a thick-slice stack). The choice is clear when the chosen ring is more wall
# than the next best by this margin (in a stack: per slice with more than one candidate, summed).
CANDIDATE_FRACTION = 0.2
CLEAR_MARGIN = 0.05
# Wall past this multiple of the LV's own wall thickness (90th percentile of the distance to the
# LV cavity, over the wall nearer the LV than any other cavity) and nearer a removed cavity is
# that cavity's wall.
THICKNESS_FACTOR = 1.25


FACES = ndi.generate_binary_structure(3, 1)


def _joined_to_cavity(codes: np.ndarray, cavity: np.ndarray) -> np.ndarray:
    """``codes`` (modified in place) keeping only the parts face-connected to ``cavity``."""
    codes[~components_touching(codes > 0, cavity, FACES)] = 0
    return codes


def _slices(shape, axis: int):
    for k in range(shape[axis]):
        yield tuple(k if a == axis else slice(None) for a in range(3))


def distance_mm(mask: np.ndarray, spacing_kji: Sequence[float], axis: Optional[int]) -> np.ndarray:
    """Distance (mm) to ``mask``: in 3D, or in-plane slice by slice across ``axis`` (inf on slices
    without any of it)."""
    out = np.full(mask.shape, np.inf)
    if axis is None:
        if mask.any():
            out[...] = ndi.distance_transform_edt(~mask, sampling=spacing_kji)
        return out
    in_plane = [s for a, s in enumerate(spacing_kji) if a != axis]
    for sl in _slices(mask.shape, axis):
        if mask[sl].any():
            out[sl] = ndi.distance_transform_edt(~mask[sl], sampling=in_plane)
    return out


def _ringed_by_wall(component: np.ndarray, wall: np.ndarray, structure: np.ndarray) -> float:
    """The fraction of the voxels just outside ``component`` that are wall (an LV cavity: ~1)."""
    ring = ndi.binary_dilation(component, structure=structure) & ~component
    return float(wall[ring].mean()) if ring.any() else 0.0


def _candidates(labels: np.ndarray, n: int, wall: np.ndarray, structure: np.ndarray) -> Dict[int, float]:
    """{label: how much of its ring is wall} for the components large enough to be the LV's."""
    if n == 0:
        return {}
    sizes = ndi.sum(labels > 0, labels, np.arange(1, n + 1))
    smallest = CANDIDATE_FRACTION * sizes.max()
    return {i + 1: _ringed_by_wall(labels == i + 1, wall, structure) for i in range(n) if sizes[i] >= smallest}


def _best_track(options: List[Dict[int, float]], overlap) -> Tuple[List[Optional[int]], float]:
    """(one candidate per slice, the sum of its ring scores) maximising the
    ring scores plus the overlap (intersection over union) of consecutive choices: an LV runs
    through the stack, so a choice does not jump to another cavity from one slice to the next."""
    score: List[Dict[int, float]] = []
    back: List[Dict[int, Optional[int]]] = []
    for k, opts in enumerate(options):
        score.append({})
        back.append({})
        for c, ring in opts.items():
            prev = score[k - 1] if k else {}
            best_prev, best = None, 0.0
            for p, total in prev.items():
                linked = total + overlap(k, c, p)
                if best_prev is None or linked > best:
                    best_prev, best = p, linked
            score[k][c], back[k][c] = ring + best, best_prev
    track: List[Optional[int]] = [None] * len(options)
    k = len(options) - 1
    while k >= 0:  # back from the last slice; a slice without candidates starts a new chain
        if not score[k]:
            k -= 1
            continue
        c = max(score[k], key=score[k].get)
        while k >= 0 and c is not None:
            track[k] = c
            c = back[k][c]
            k -= 1
    return track, float(sum(options[k][c] for k, c in enumerate(track) if c is not None))


# Undecided, and the best track through the other components holds at least this share of the
# LV track's ring score: two ventricle-like cavities, and which is the LV is the reader's call.
RIVAL_SHARE = 0.5


def lv_cavity(codes: np.ndarray, axis: Optional[int], point_kji: Optional[Sequence[float]] = None
               ) -> Tuple[np.ndarray, bool]:
    """(the LV's blood pool, whether a rival cavity left the choice open). The LV's blood pool:
    of the blood-pool components, the one ringed by wall; in a thick-slice stack the track of
    in-plane components through the slices best ringed by wall and overlapping from slice to
    slice. The best track must be clearly better than the best one through the
    other components (by ``CLEAR_MARGIN`` per slice with a choice; a slice where the LV's is the
    only blood pool counts for it: the RV does not reach the apex), else every blood pool stays
    the LV's.
    ``point_kji``: a reader's point in the LV decides instead."""
    cavity, wall = codes == 1, codes == 2
    point = None if point_kji is None else tuple(int(np.clip(round(p), 0, s - 1))
                                                 for p, s in zip(point_kji, codes.shape))
    if axis is None:
        labels, n = ndi.label(cavity)
        if point is not None and labels[point]:
            return labels == labels[point], False
        options = _candidates(labels, n, wall, FACES)
        ranked = sorted(options.items(), key=lambda item: -item[1])
        if len(ranked) > 1 and ranked[0][1] - ranked[1][1] <= CLEAR_MARGIN:
            return cavity, ranked[1][1] >= RIVAL_SHARE * ranked[0][1]
        return (labels == ranked[0][0] if ranked else cavity), False
    planes = list(_slices(codes.shape, axis))
    labelled = [ndi.label(cavity[sl]) for sl in planes]
    ring = ndi.generate_binary_structure(2, 1)
    options = [_candidates(labels, n, wall[sl], ring) for sl, (labels, n) in zip(planes, labelled)]
    if point is not None:
        k = point[axis]
        held = labelled[k][0][tuple(p for a, p in enumerate(point) if a != axis)]
        if held:
            options[k] = {int(held): 1.0}

    def overlap(k, c, p):
        a, b = labelled[k][0] == c, labelled[k - 1][0] == p
        return float((a & b).sum()) / max(float((a | b).sum()), 1.0)

    track, ringed = _best_track(options, overlap)
    if point is None:
        _, next_ringed = _best_track([{c: r for c, r in opts.items() if c != track[k]}
                                      for k, opts in enumerate(options)], overlap)
        if ringed - next_ringed <= CLEAR_MARGIN * max(1, sum(len(o) > 1 for o in options)):
            return cavity, next_ringed >= RIVAL_SHARE * ringed
    lv = np.zeros_like(cavity)
    for sl, (labels, _), pick in zip(planes, labelled, track):
        if pick is not None:
            lv[sl] = labels == pick
    return lv, False


def keep_one_ventricle(codes: np.ndarray, spacing_kji: Sequence[float], axis: Optional[int],
                       point_kji: Optional[Sequence[float]] = None) -> Tuple[np.ndarray, bool]:
    """(``codes`` without a second cavity beyond the LV's wall and the wall drawn around it (a
    copy; the input as it is when there is none), whether a rival cavity ringed alike left the
    choice open: then both stay and a reader's point in the LV is needed). ``axis``: a
    thick-slice stack's slice axis (per-slice choices and in-plane distances) or None (3D)."""
    cavity, wall = codes == 1, codes == 2
    lv, rival = lv_cavity(codes, axis, point_kji)
    others = cavity & ~lv
    if not others.any() or not lv.any():
        return codes, rival
    to_lv = distance_mm(lv, spacing_kji, axis)
    owned = wall & (to_lv <= distance_mm(others, spacing_kji, axis)) & np.isfinite(to_lv)
    if not owned.any():
        return codes, rival
    thickness = float(np.percentile(to_lv[owned], 90))
    # a cavity fragment inside the LV's ring (blood between trabeculae) is the LV's; one lying
    # mostly beyond the LV's wall is another cavity
    labels, n = ndi.label(others, structure=FULL_CONNECTIVITY if axis is None else plane_connectivity(axis))
    median = ndi.median(np.where(np.isfinite(to_lv), to_lv, 1e6), labels, np.arange(1, n + 1))
    beyond = np.isin(labels, 1 + np.flatnonzero(np.asarray(median) > thickness))
    if not beyond.any():
        return codes, rival
    theirs = wall & (to_lv > THICKNESS_FACTOR * thickness) & (distance_mm(beyond, spacing_kji, axis) < to_lv)
    out = codes.copy()
    out[beyond | theirs] = 0
    return _joined_to_cavity(out, lv), rival


# Wall in a thick-slice stack further from the LV cavity than this multiple of the slice's
# median sector thickness (and at least OUTGROWTH_MIN_MM) is an outgrowth, not the LV's wall.
OUTGROWTH_FACTOR = 1.5
OUTGROWTH_MIN_MM = 12.0
SECTORS = 36


def trim_outgrowths(codes: np.ndarray, spacing_kji: Sequence[float], axis: Optional[int]) -> np.ndarray:
    """``codes`` without wall that juts out of the LV's ring (a copy; the input as it is when there
    is none). Thick-slice stacks only, slice by slice: the ring's thickness in each of 36 sectors
    around the cavity's centre is its wall's largest distance from the cavity, and wall further
    out than 1.5x the median sector's (at least 12 mm) goes. A myocardium network drew such
    blobs into fat and lung next to the lateral wall, most often in a wide field of view."""
    if axis is None:
        return codes
    in_plane = [s for a, s in enumerate(spacing_kji) if a != axis]
    out = codes
    for sl in _slices(codes.shape, axis):
        cavity, wall = codes[sl] == 1, codes[sl] == 2
        if not cavity.any() or not wall.any():
            continue
        to_cavity = ndi.distance_transform_edt(~cavity, sampling=in_plane)
        cy, cx = (np.mean(c) for c in np.nonzero(cavity))
        ys, xs = np.nonzero(wall)
        angle = np.arctan2((ys - cy) * in_plane[0], (xs - cx) * in_plane[1])
        sector = ((angle + np.pi) / (2 * np.pi) * SECTORS).astype(int) % SECTORS
        distance = to_cavity[ys, xs]
        thickest = np.full(SECTORS, -1.0)
        np.maximum.at(thickest, sector, distance)
        limit = max(OUTGROWTH_FACTOR * float(np.median(thickest[thickest >= 0])), OUTGROWTH_MIN_MM)
        far = distance > limit
        if far.any():
            if out is codes:
                out = codes.copy()
            out[sl][ys[far], xs[far]] = 0
    return codes if out is codes else _joined_to_cavity(out, out == 1)
