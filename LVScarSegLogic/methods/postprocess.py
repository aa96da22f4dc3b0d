"""What every scar method gets around it (issue: "around all of them"):

1. endocardial/epicardial border guard: a wall voxel next to bright blood or fat whose signal
   is no brighter than those neighbours is partial volume, not scar, unless (thick-slice
   stacks) scar lies right behind it deeper in the wall;
2. significance: a scar component whose mean signal is not clearly above remote myocardium
   (in a thick-slice stack: that slice's) is noise (this is what keeps histogram-splitting
   methods quiet in healthy hearts);
3. small components are removed, and so is scar alone on a thick-slice stack's basal slice and
   scar that is only a rim along the epicardium (fat inside a contour drawn too wide);
4. MVO: a dark core enclosed by enhancement (and the cavity) is labelled MVO, which counts as
   infarct; a gray zone is kept only where it borders scar;
5. contour repair: scar may reach a voxel beyond a contour drawn too tight.
"""
from __future__ import annotations

import numpy as np

from ..geometry import spacing_kji
from ..lazy import ndi
from ..masks import FULL_CONNECTIVITY, in_plane_structure, plane_connectivity, remove_small, slice_axis
from .base import ScarInput, ScarResult
from .reference import REMOTE_FRACTION, around_wall, blood_level, cavity, remote_reference, remote_stats

MVO_CLOSING_MM = 1.5


def _in_plane_size(spacing, size: int = 3):
    axis = slice_axis(spacing)
    s = [size] * 3
    if axis is not None:
        s[axis] = 1
    return s


# How far in from the wall's border (in-plane voxels) a voxel counts as the border, and whether in a
# thick-slice stack the slices above and below are neighbours too. Two voxels and through-plane
# neighbours were built for this project's phantoms; on data it did not generate they removed true
# subendocardial scar (benchmarks/results/border_guard.md): one in-plane voxel, chosen there on
# training-split data, keeps healthy walls about as clean. That voxel was 1.5 mm: the depth is kept in
# mm, so that an image exported at finer pixels (0.75 mm, as multi-centre stacks often are, their
# partial-volume band two pixels wide) is guarded as deep (EMIDEC's training exams resampled to
# 0.75 mm, expert wall: healthy exams' mean false infarct otsu 13.9 -> 9.5 %, fwhm 14.5 -> 9.0 %,
# strm 6.9 -> 4.7 %, ewa 10.2 -> 7.7 %; infarct Dice otsu +0.004, fwhm +0.009, strm -0.008, ewa
# -0.012; this project's own phantoms, whose 3D volumes have 0.625-mm pixels, within +-0.006).
GUARD_DEPTH_MM = 1.5
GUARD_DEPTH = None  # in-plane voxels when set (benchmarks/border_guard.py); None: GUARD_DEPTH_MM
GUARD_THROUGH_PLANE = False


def guard_depth_voxels(spacing_ijk) -> int:
    """The border guard's depth in in-plane voxels: ``GUARD_DEPTH`` if set, else ``GUARD_DEPTH_MM``
    at the finest in-plane pixel (at least one voxel)."""
    if GUARD_DEPTH is not None:
        return int(GUARD_DEPTH)
    axis = slice_axis(spacing_ijk)
    sp = spacing_kji(spacing_ijk)
    pixel = min(s for a, s in enumerate(sp) if a != axis)
    return max(1, int(round(GUARD_DEPTH_MM / pixel)))


def border_guard(inp: ScarInput, sd: float, depth: int = None, through_plane: bool = None) -> np.ndarray:
    """Wall voxels within ``depth`` voxels (in-plane; default ``guard_depth_voxels``) of the wall's border
    that are no brighter than the brightest neighbouring non-wall tissue (blood, fat; lightly
    smoothed) + 0.5 SD: partial volume, or blood and fat inside a contour drawn a voxel too wide.
    Scar brighter than its bright neighbours stays. With ``through_plane`` (default
    ``GUARD_THROUGH_PLANE``) the slices above and below a thick-slice stack's slice count as
    neighbours too (a slab grazing the cavity holds its blood)."""
    depth = guard_depth_voxels(inp.spacing) if depth is None else int(depth)
    through_plane = GUARD_THROUGH_PLANE if through_plane is None else bool(through_plane)
    wall = inp.myocardium
    outside = ~wall
    small = _in_plane_size(inp.spacing, 3)
    count = ndi.uniform_filter(outside.astype(np.float32), size=small, mode="nearest")
    smooth = ndi.uniform_filter(np.where(outside, inp.image, 0).astype(np.float32), size=small,
                                mode="nearest") / np.maximum(count, 1e-6)
    smooth = np.where(outside, smooth, -np.inf).astype(np.float32)
    box = _in_plane_size(inp.spacing, 2 * depth + 1)
    # the first voxel: 4-neighbours of the outside; deeper ones also diagonally (an octagon, close
    # to a disc, so that a curved band of partial volume is covered all along)
    axis = slice_axis(inp.spacing)
    near = ndi.binary_dilation(outside, structure=in_plane_structure(inp.spacing))
    if depth > 1:
        square = plane_connectivity(axis) if axis is not None else FULL_CONNECTIVITY
        near = ndi.binary_dilation(near, structure=square, iterations=depth - 1)
    if axis is not None and through_plane:
        box[axis] = 3
        through = np.zeros((3, 3, 3), dtype=bool)
        through[tuple(slice(None) if a == axis else 1 for a in range(3))] = True
        near |= ndi.binary_dilation(outside, structure=through)
    bright_neighbour = ndi.maximum_filter(smooth, size=box, mode="nearest")
    return wall & near & (inp.image <= bright_neighbour + 0.5 * sd)


def backed_by_scar(inp: ScarInput, scar: np.ndarray, guarded: np.ndarray) -> np.ndarray:
    """Guarded border voxels of a thick-slice stack that touch (in-plane) scar the guard kept
    deeper in the wall: an infarct grows from the endocardium, so the border voxel in front of
    it is infarct next to blood as bright as it, not blood inside a contour drawn too wide.
    With the true wall the guard had removed that voxel (second phantom style's training labels:
    fwhm 0.859 against 0.918 without the guard, the textbook form 0.862). 3D volumes: none (this
    project's own 3D phantoms with an observer wall lost up to 0.35 with it)."""
    if slice_axis(inp.spacing) is None:
        return np.zeros_like(guarded)
    return guarded & ndi.binary_dilation(scar & ~guarded, structure=in_plane_structure(inp.spacing))


# The basal check asks the next slice to confirm a basal infarct; it was chosen on EMIDEC's 10-mm
# stacks. With every second slice (20 mm apart) a true basal infarct often ends before the next
# slice: EMIDEC's training exams, expert wall, infarct Dice cmpunet 0.766 -> 0.730 (the previous
# scar model 0.730 -> 0.702) and ewa 0.666 -> 0.624 with the check, so farther apart than this the
# check is not made.
BASAL_CHECK_MAX_GAP_MM = 12.0


def lone_basal_infarct(inp: ScarInput, infarct: np.ndarray) -> np.ndarray:
    """Infarct on the basal slice of a thick-slice stack that has no infarct under it on the next
    slice toward the apex (in-plane components; the footprint widened by two voxels): the basal
    slice cuts the wall obliquely, next to the outflow tract and the atrium, and its bright
    partial volume is what a scar network calls infarct in healthy hearts (EMIDEC training
    exams, default network with the expert wall: 36 % of the false scar of healthy exams lay
    there with nothing under it, against 2 of 72,949 true infarct voxels). The base is the end
    slice with the larger LV cavity (right in all 100 EMIDEC exams); stacks of fewer than three
    wall slices, or whose ends cannot be told apart, and 3D volumes are left alone, and so are
    stacks whose slices lie more than ``BASAL_CHECK_MAX_GAP_MM`` apart."""
    none = np.zeros_like(infarct)
    axis = slice_axis(inp.spacing)
    if axis is None or not infarct.any() or spacing_kji(inp.spacing)[axis] > BASAL_CHECK_MAX_GAP_MM:
        return none
    wall = np.moveaxis(inp.myocardium, axis, 0)
    found = np.flatnonzero(wall.reshape(wall.shape[0], -1).any(1))
    if found.size < 3:
        return none
    cav = np.moveaxis(cavity(inp), axis, 0)
    first, last = int(found[0]), int(found[-1])
    areas = int(cav[first].sum()), int(cav[last].sum())
    if areas[0] == areas[1]:
        return none
    base, inner = (first, first + 1) if areas[0] > areas[1] else (last, last - 1)
    mask = np.moveaxis(infarct, axis, 0)
    labels, _ = ndi.label(mask[base])
    # a component's footprint widened by two voxels meets the next slice's infarct exactly when
    # the component meets that infarct widened the same way (the structure is symmetric)
    under = np.unique(labels[ndi.binary_dilation(mask[inner], iterations=2)])
    drop = np.zeros_like(mask)
    drop[base] = (labels > 0) & ~np.isin(labels, under)
    return np.moveaxis(drop, 0, axis)


def epicardial_rim(inp: ScarInput, scar: np.ndarray, fraction: float) -> np.ndarray:
    """Scar that is only a rim along the epicardium: components with at least ``fraction`` of
    their voxels in the wall's outer border layer (one voxel). Bright epicardial fat inside a
    contour drawn a voxel wide looks like this; an infarct grows from the endocardium and fills the
    wall behind such a rim. Thick-slice stacks: in-plane components, the layer in-plane, and only on
    slices where the wall rings a cavity (the apical cap is a disc of wall whose border is most of
    it). 3D volumes: 3D components and layer."""
    none = np.zeros_like(scar)
    if fraction <= 0 or not scar.any():
        return none
    axis = slice_axis(inp.spacing)
    wall = inp.myocardium
    cav = cavity(inp)
    layer = wall & ndi.binary_dilation(~wall & ~cav, structure=in_plane_structure(inp.spacing))
    labels, n = ndi.label(scar, structure=FULL_CONNECTIVITY if axis is None else plane_connectivity(axis))
    if n == 0:
        return none
    drop = np.zeros(n + 1, dtype=bool)
    drop[1:] = ndi.mean(layer, labels, np.arange(1, n + 1)) >= fraction
    if axis is not None:
        ringed = np.moveaxis(cav, axis, 0).reshape(cav.shape[axis], -1).any(1)  # slices with a cavity
        drop[1:] &= ringed[[box[axis].start for box in ndi.find_objects(labels)]]
    return drop[labels]


def _components_and_reference(inp: ScarInput, scar: np.ndarray, mean: float, sd: float):
    """(labels, n, remote mean, remote SD) for judging scar components: 3D components against the
    volume's remote statistics; in a thick-slice stack in-plane components against each slice's
    remote mean (arrays broadcast over the image) and the median of the slices' SDs."""
    axis = slice_axis(inp.spacing)
    if axis is None:
        labels, n = ndi.label(scar, structure=FULL_CONNECTIVITY)
        return labels, n, mean, sd
    labels, n = ndi.label(scar, structure=plane_connectivity(axis))
    slice_mean, slice_sd, _ = inp.cached("significance_reference",
                                         lambda: remote_reference(inp, "slice", REMOTE_FRACTION, []))
    return labels, n, slice_mean, np.maximum(slice_sd, 1e-6)


def _keep_components(labels: np.ndarray, n: int, score: np.ndarray, threshold: float) -> np.ndarray:
    keep = np.zeros(n + 1, dtype=bool)
    keep[1:] = ndi.mean(score, labels, np.arange(1, n + 1)) >= threshold
    return keep[labels]


def significant(inp: ScarInput, scar: np.ndarray, mean: float, sd: float, k: float) -> np.ndarray:
    """Scar components whose mean signal exceeds remote myocardium by ``k`` SD.

    3D volumes: 3D components against the volume's remote ``mean`` and ``sd``. Thick-slice
    stacks: each slice's in-plane components against that slice's own remote mean (the remote
    ROI is taken from the same slice, as for n-SD; Bondarenko 2005) in units of the median of
    the slices' remote SDs. A healthy wall's darkest quarter over the whole stack sits on its
    darkest slices, so against it a histogram method's upper half of a healthy wall was
    "significant" (EMIDEC's 14 healthy training exams, expert wall: FWHM called 30 % of the wall
    scar on average, 12 % this way; infarct Dice on the 54 others 0.60 -> 0.62)."""
    if k <= 0 or not scar.any():
        return scar
    labels, n, reference, spread = _components_and_reference(inp, scar, mean, sd)
    return _keep_components(labels, n, (inp.image - reference) / spread, k)


def toward_blood(inp: ScarInput, scar: np.ndarray, mean: float, sd: float, fraction: float) -> np.ndarray:
    """Scar components whose mean signal lies at least ``fraction`` of the way from remote
    myocardium to the blood pool (components and remote mean as for :func:`significant`). Left
    as it is where no cavity is found or the blood is not brighter than remote + 3 SD
    (contrasts where blood is dark)."""
    blood = blood_level(inp)
    if blood is None or blood <= mean + 3.0 * sd or not scar.any():
        return scar
    labels, n, reference, _ = _components_and_reference(inp, scar, mean, sd)
    return _keep_components(labels, n, (inp.image - reference) / np.maximum(blood - reference, 1e-6), fraction)


def find_mvo(inp: ScarInput, scar: np.ndarray, bridge: np.ndarray, mean: float) -> np.ndarray:
    """Components of dark wall enclosed by scar, cavity and ``bridge`` (raw enhancement that the
    checks removed) with <= 20 % other neighbours and >= 30 % scar around them."""
    wall = inp.myocardium
    enhanced = scar | bridge
    # Patchy rims leave voxel-wide gaps through which a core would join the healthy wall: close
    # them first (about 1.5 mm), find the cores, then give the closed-over voxels back below.
    plane = in_plane_structure(inp.spacing)
    radius = max(1, int(round(MVO_CLOSING_MM / min(inp.spacing))))
    closed = ndi.binary_closing(enhanced, structure=plane, iterations=radius, border_value=0) | enhanced
    candidates = wall & ~closed
    # Thick slices: a core is a region of its own slice, judged by that slice's neighbours (the
    # next slice is 8 mm away, and connecting through it joins every core to healthy wall).
    axis = slice_axis(inp.spacing)
    if axis is None:
        connectivity, ring_structure = FULL_CONNECTIVITY, FULL_CONNECTIVITY
    else:
        connectivity = plane_connectivity(axis)
        ring_structure = in_plane_structure(inp.spacing)
    labels, n = ndi.label(candidates, structure=connectivity)
    if n == 0 or not enhanced.any():
        return np.zeros_like(wall)
    cav = cavity(inp)
    enhanced_volume = int(enhanced.sum())
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    mvo = np.zeros_like(wall)
    for lab in np.nonzero((sizes > 0) & (sizes <= 0.5 * enhanced_volume))[0]:
        if lab == 0:
            continue
        box = ndi.find_objects((labels == lab).astype(np.uint8))[0]
        # A thick slice's core is no larger than the enhancement on its slice: healthy wall between
        # the cavity and a false rim of epicardial fat looked "enclosed" (second phantom style's
        # training labels, observer wall: a third of the false MVO voxels, 5 % of the true ones).
        if axis is not None and sizes[lab] > np.take(enhanced, box[axis].start, axis=axis).sum():
            continue
        grown = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in box)
        comp = labels[grown] == lab
        ring = ndi.binary_dilation(comp, structure=ring_structure) & ~comp
        enclosed = (enhanced[grown] | cav[grown])[ring]
        rim = ring & scar[grown]
        if not enclosed.size or enclosed.mean() < 0.8 or rim.sum() < 0.3 * ring.sum():
            continue
        # Dark relative to its own rim: below half-way from remote myocardium to the rim's signal
        # (thick slices mix some enhancement into the core, so remote + 2 SD would be too strict).
        image = inp.image[grown]
        if image[comp].mean() < mean + 0.5 * (image[rim].mean() - mean):
            mvo[grown] |= comp
    if mvo.any():
        # the dark voxels the closing covered, next to a core
        mvo |= ndi.binary_dilation(mvo, structure=plane, iterations=radius) & wall & ~enhanced & \
            (inp.image < mean + 0.5 * (inp.image[scar].mean() - mean))
    return mvo


def repair_contour(inp: ScarInput, scar: np.ndarray, sd: float, voxels: int) -> np.ndarray:
    """Voxels just outside the wall, connected to the scar, whose signal is at the scar's level and
    above the blood's: tissue that a contour drawn a voxel too tight left out."""
    wall = inp.myocardium
    if voxels <= 0 or not scar.any():
        return np.zeros_like(wall)
    level = float(np.percentile(inp.image[scar], 10))
    blood = blood_level(inp)
    floor = max(level, (blood if blood is not None else level) + 2.0 * sd)
    structure = in_plane_structure(inp.spacing)
    added = np.zeros_like(wall)
    front = scar
    for _ in range(voxels):
        ring = ndi.binary_dilation(front, structure=structure) & ~wall & ~added
        front = ring & (inp.image >= floor)
        if not front.any():
            break
        added |= front
    return added


def finalize(inp: ScarInput, result: ScarResult, endo_guard: bool, min_contrast_sd: float, min_size_mm3: float,
             detect_mvo: bool, repair_voxels: int, basal_check: bool = True, epi_rim: float = 0.5,
             min_blood_fraction: float = 0.5) -> ScarResult:
    """Apply the shared steps. They only look a few voxels around the wall, so they run on the
    wall's bounding box + 4 voxels (the method's crop has a 12-mm margin for its local means)."""
    box, sub = around_wall(inp, 4)

    def cut(mask):
        return None if mask is None else mask[box]

    done = _finalize(sub, ScarResult(scar=cut(result.scar), grayzone=cut(result.grayzone), mvo=cut(result.mvo),
                                     info=result.info, warnings=result.warnings),
                     endo_guard, min_contrast_sd, min_size_mm3, detect_mvo, repair_voxels, basal_check, epi_rim,
                     min_blood_fraction)

    def paste(mask):
        if mask is None:
            return None
        out = np.zeros(inp.myocardium.shape, dtype=bool)
        out[box] = mask
        return out

    return ScarResult(scar=paste(done.scar), grayzone=paste(done.grayzone), mvo=paste(done.mvo), info=done.info,
                      warnings=done.warnings)


def _finalize(inp: ScarInput, result: ScarResult, endo_guard: bool, min_contrast_sd: float, min_size_mm3: float,
              detect_mvo: bool, repair_voxels: int, basal_check: bool, epi_rim: float,
              min_blood_fraction: float) -> ScarResult:
    wall = inp.myocardium
    scar = result.scar & wall
    gray = (result.grayzone & wall & ~scar) if result.grayzone is not None else None
    mean, sd = remote_stats(inp)
    info = dict(result.info)
    if endo_guard:
        partial_volume = border_guard(inp, sd)
        partial_volume &= ~backed_by_scar(inp, scar, partial_volume)
        info["border_voxels_dropped"] = int((scar & partial_volume).sum())
        scar &= ~partial_volume
        if gray is not None:
            gray &= ~partial_volume
    if min_contrast_sd > 0:
        scar = significant(inp, scar, mean, sd, min_contrast_sd)
    if min_blood_fraction > 0:
        scar = toward_blood(inp, scar, mean, sd, min_blood_fraction)
    voxel_mm3 = inp.grid.voxel_volume_ml * 1000.0
    if min_size_mm3 > 0:
        scar = remove_small(scar, max(1, int(np.ceil(min_size_mm3 / voxel_mm3))))
    if epi_rim > 0:
        rim = epicardial_rim(inp, scar, epi_rim)
        info["epicardial_rim_voxels"] = int(rim.sum())
        scar &= ~rim
    if basal_check:
        lone = lone_basal_infarct(inp, scar)
        info["lone_basal_voxels"] = int(lone.sum())
        scar &= ~lone
    extra = repair_contour(inp, scar, sd, repair_voxels)
    if extra.any():
        info["repaired_voxels"] = int(extra.sum())
    mvo = None
    if detect_mvo and scar.any():
        # The border guard and the significance test thin the rim that closes a core off from the
        # healthy wall: the method's own raw enhancement bridges it for the enclosure test.
        raw = (result.scar | (result.grayzone if result.grayzone is not None else False)) & wall
        enhanced = scar | (gray if gray is not None else False)
        mvo = find_mvo(inp, enhanced, raw & ~enhanced, mean)
        if mvo.any():  # a core belongs to a scar that survived the checks above
            labels, _ = ndi.label(mvo, structure=FULL_CONNECTIVITY)
            near = np.unique(labels[ndi.binary_dilation(scar, structure=FULL_CONNECTIVITY, iterations=2) & mvo])
            mvo = np.isin(labels, near[near > 0])
        if result.mvo is not None:
            mvo |= result.mvo & wall
        info["mvo_voxels"] = int(mvo.sum())
    if gray is not None:
        # A gray zone is peri-infarct: keep the parts that touch the scar.
        labels, n = ndi.label(gray, structure=FULL_CONNECTIVITY)
        touching = np.unique(labels[ndi.binary_dilation(scar, structure=FULL_CONNECTIVITY) & gray])
        gray = np.isin(labels, touching[touching > 0])
    warnings = list(result.warnings)
    if extra.any():
        ml = extra.sum() * inp.grid.voxel_volume_ml
        where = "the given myocardium" if inp.wall_given else "the model's myocardium"
        warnings.append(f"scar extended {ml:.2f} mL beyond {where} where the contour looked a voxel "
                        "too tight (repair_voxels=0 turns this off)")
    return ScarResult(scar=scar | extra, grayzone=gray, mvo=mvo, info=info, warnings=warnings)
