"""Finding the LV: the localizer's candidates, the myocardium network's verdict on a crop (LV
plausibility), re-centring a crop on the LV found in it, and the bounded search of the image with
windows. Arrays are (k, j, i) on the input grid; spacings in k, j, i order (mm)."""
from __future__ import annotations

import time
from functools import cached_property
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from . import prep
from .loading import load_model
from .networks import pick_device
from .prediction import Plan, inference_plan, predict, thick_slice_axis, to_working
from .tasks import Task

LOCALIZER_MARGIN_MM = 15.0
# Propose and verify: the localizer proposes up to this many LV candidates; the myocardium network
# checks them, and a weaker candidate replaces the strongest only when it is clearly more LV-like
# (score and margin chosen on the 68 EMIDEC training exams: 60 -> 62 localized, none lost;
# held-out exams: 26 -> 29 of 32; phantom benchmark unchanged).
MAX_LV_CANDIDATES = 3
CANDIDATE_MIN_FRACTION = 0.05
SWITCH_MARGIN = 0.05
# Re-centring the crop on the LV the myocardium network found: at most this many extra passes
# (a second one changed nothing measurable), none when the new box overlaps the last one this
# much (intersection over union).
RECENTRE_PASSES = 1
RECENTRE_STABLE_IOU = 0.9
# An LV whose plausibility (lv_plausibility) is below LOW_PLAUSIBILITY is searched for with
# windows over the image; the best window is taken when it scores at least SEARCH_ACCEPT. Both
# were chosen on the 68 EMIDEC training exams (held-out exams not looked at for the choice), for
# the multi-planar vote. One plane is more confident than three averaged, so thick-slice stacks
# (in-plane, slice by slice) have their own pair, chosen the same way: searching below 1.0 and
# accepting from 1.35 gave the training exams 0.680 -> 0.734 (60 of them; flat from 1.0-1.05 and
# 1.35-1.375), and no exam below wall Dice 0.3. Re-checked for the myocardium model trained on
# the stacks' own slices (benchmarks/search_thresholds.py, 68 training exams): the pair sits on a
# plateau (0.793 for searching below 0.9-1.0 and accepting from 1.0-1.35); the grid's best, 0.799
# at (1.2, 1.3), is next to a cliff (0.78 at 1.3) and was not taken.
LOW_PLAUSIBILITY = 0.75
SEARCH_ACCEPT = 1.0
THICK_SLICE_LOW_PLAUSIBILITY = 1.0
THICK_SLICE_SEARCH_ACCEPT = 1.35
SEARCH_WINDOW_MM = 120.0
SEARCH_STRIDE_MM = 30.0
# A candidate box wider than this (in-plane; an LV with the localizer's margins is about 100 mm)
# holds more than the LV: in a wide field of view the localizer's LV region ran into the RV, the
# outflow tract and the atria (EMIDEC Case_P005 at 0.75 mm with every second slice: a 220 mm box,
# in which the myocardium network drew the RV and the aorta and missed the LV). Such a candidate gets
# a SEARCH_WINDOW_MM box around its peak as one more candidate, which the myocardium network judges
# like the others. Chosen on the 68 EMIDEC training exams, fully automatic LV wall / infarct Dice
# (as exported; 0.75 mm in a 144 mm wider field of view; that with every second slice): none
# 0.804 / 0.540, 0.791 / 0.504, 0.805 / 0.519; from 160 mm 0.806 / 0.543, 0.798 / 0.511, 0.815 /
# 0.543; from 130 mm 0.810 / 0.548, 0.800 / 0.521, 0.817 / 0.546 (from 110 mm the same within 0.001).
OVERSIZED_MM = 130.0
MAX_SEARCH_WINDOWS = 150
SEARCH_TIME_LIMIT_S = 30.0  # the search stops here with the best window so far (a bounded worst case)


def search_thresholds(plan: Plan) -> Tuple[float, float]:
    """(plausibility below which the image is searched, plausibility a search window needs)."""
    if plan.thick_slices:
        return THICK_SLICE_LOW_PLAUSIBILITY, THICK_SLICE_SEARCH_ACCEPT
    return LOW_PLAUSIBILITY, SEARCH_ACCEPT


def _largest_component(mask: np.ndarray, weight: Optional[np.ndarray] = None) -> np.ndarray:
    from scipy import ndimage as ndi

    labels, n = ndi.label(mask)
    if n <= 1:
        return mask
    scores = ndi.sum(weight if weight is not None else mask, labels, index=np.arange(1, n + 1))
    return labels == (int(np.argmax(scores)) + 1)


def component_nearest(mask: np.ndarray, point_kji: Sequence[float]) -> np.ndarray:
    """The connected component of ``mask`` that holds the point (voxel index), else the nearest one."""
    from scipy import ndimage as ndi

    labels, n = ndi.label(mask)
    if n <= 1:
        return mask
    idx = tuple(int(np.clip(round(p), 0, s - 1)) for p, s in zip(point_kji, mask.shape))
    if labels[idx]:
        return labels == labels[idx]
    _, nearest = ndi.distance_transform_edt(labels == 0, return_indices=True)
    return labels == labels[tuple(nearest[(slice(None),) + idx])]


def box_at(point_kji: Sequence[float], shape, spacing_kji) -> Tuple[slice, ...]:
    """A SEARCH_WINDOW_MM box (clipped to the image) centred on a point (voxel index, k, j, i)."""
    box = []
    for p, n, sp in zip(point_kji, shape, spacing_kji):
        half = SEARCH_WINDOW_MM / 2.0 / sp
        lo, hi = int(np.floor(p - half)), int(np.ceil(p + half)) + 1
        box.append(slice(max(lo, 0), min(hi, n)))
    return tuple(box)


CENTRE_CANDIDATE = True  # False: the localizer's candidates only (as before; for benchmarks)


def centre_candidate(shape, spacing_kji, boxes: Sequence[Tuple[slice, ...]]) -> Optional[Tuple[slice, ...]]:
    """A box at the image's centre (``box_at``), as one more LV candidate for the myocardium network
    to judge, or None when a localizer box already overlaps it (intersection over union >= 0.3).
    Short-axis stacks are planned on the heart, so the LV is usually near the field of view's
    centre; the box still has to be clearly more LV-like than the localizer's strongest candidate
    (SWITCH_MARGIN) to be taken."""
    box = box_at([(n - 1) / 2.0 for n in shape], shape, spacing_kji)
    if not CENTRE_CANDIDATE or any(_box_iou(box, b) >= 0.3 for b in boxes):
        return None
    return box


def _box_iou(a: Tuple[slice, ...], b: Tuple[slice, ...]) -> float:
    inter = np.prod([max(0, min(x.stop, y.stop) - max(x.start, y.start)) for x, y in zip(a, b)])
    size = lambda box: np.prod([s.stop - s.start for s in box])  # noqa: E731
    return float(inter / (size(a) + size(b) - inter))


def _box_in_input(component: np.ndarray, image_shape, work_shape, spacing_kji) -> Tuple[slice, ...]:
    """Input-grid box (k, j, i slices) around a localizer-grid component plus the LV margin."""
    idx = np.nonzero(component)
    box = []
    for ax in range(3):
        f = image_shape[ax] / work_shape[ax]  # input voxels per localizer voxel
        m = int(np.ceil(LOCALIZER_MARGIN_MM / spacing_kji[ax]))
        lo = int(np.floor(idx[ax].min() * f)) - m
        hi = int(np.ceil((idx[ax].max() + 1) * f)) + m
        box.append(slice(max(lo, 0), min(hi, image_shape[ax])))
    return tuple(box)


def localize_candidates(image: np.ndarray, spacing_kji, device: str = "auto", model_path: Optional[str] = None,
                        max_candidates: int = MAX_LV_CANDIDATES
                        ) -> Tuple[List[Tuple[Tuple[slice, ...], float]], Dict[str, object]]:
    """([(box, score), ...] strongest first, details): boxes (k, j, i slices of the input) around
    the localizer's LV candidates plus a 15 mm margin. A candidate is a connected region of LV
    probability >= 0.5; its score is the summed probability (localizer voxels). Candidates weaker
    than 5 % of the strongest are dropped. Empty when the localizer finds no LV. ``details["peaks_kji"]``:
    each candidate's most probable point (input voxel index, k, j, i)."""
    from scipy import ndimage as ndi

    model, task, info = load_model("lv-localizer", model_path, device)
    x, shape = to_working(image, spacing_kji, task.spacing_mm)
    probs, _ = predict(model, task, x[None], pick_device(device))
    lv_prob = probs[1].numpy()
    details = {"model": info.get("name"), "model_sha256": info.get("sha256")}
    labels, n = ndi.label(lv_prob >= 0.5)
    if (labels > 0).sum() < 8:
        return [], details
    scores = ndi.sum(lv_prob, labels, index=np.arange(1, n + 1))
    order = np.argsort(-scores, kind="stable")[:max_candidates]
    # each candidate's peak (for peak_candidates): the most probable point of its region, smoothed
    # over 20 mm along the array's last two axes (in-plane for a stack stored slice by slice)
    smooth = ndi.uniform_filter(lv_prob, size=(1, 5, 5))
    found, peaks = [], []
    for c in order:
        if scores[c] < CANDIDATE_MIN_FRACTION * scores[order[0]]:
            break
        found.append((_box_in_input(labels == c + 1, image.shape, shape, spacing_kji), float(scores[c])))
        peak = np.unravel_index(int(np.argmax(np.where(labels == c + 1, smooth, -1.0))), lv_prob.shape)
        peaks.append([(p + 0.5) * n / w - 0.5 for p, n, w in zip(peak, image.shape, shape)])
    details["peaks_kji"] = peaks
    return found, details


def peak_candidates(found: Sequence[Tuple[Tuple[slice, ...], float]], peaks: Sequence[Sequence[float]],
                    shape, spacing_kji) -> List[Tuple[slice, ...]]:
    """SEARCH_WINDOW_MM boxes around the peaks (input voxel index, k, j, i) of the candidates whose box
    is wider in-plane than OVERSIZED_MM (every axis of a near-isotropic volume counts as in-plane; a
    thick-slice stack keeps the candidate's slices)."""
    axis = thick_slice_axis(spacing_kji)
    boxes = []
    for (box, _), peak in zip(found, peaks):
        extent = max((s.stop - s.start) * sp for a, (s, sp) in enumerate(zip(box, spacing_kji)) if a != axis)
        if extent > OVERSIZED_MM:
            around = list(box_at(peak, shape, spacing_kji))
            if axis is not None:
                around[axis] = box[axis]
            boxes.append(tuple(around))
    return boxes


def lv_plausibility(probs: np.ndarray) -> float:
    """How much a myocardium network's output on a crop looks like an LV, higher is better.

    ``probs`` (3 classes: background, blood pool, wall; k, j, i). The score is the mean winning
    probability over the voxels labelled LV (a network that has never seen such a structure is
    unsure) plus half the fraction of blood-pool voxels that lie inside a closed ring of wall on
    their slice (a short-axis LV is a ring around a blood pool; a bright vessel or a corner of the
    field of view is not)."""
    from scipy import ndimage as ndi

    cls = probs.argmax(0)
    lv = cls > 0
    if not lv.any():
        return 0.0
    confidence = float(probs.max(0)[lv].mean())
    wall, pool = cls == 2, cls == 1
    inside = np.stack([ndi.binary_fill_holes(s) for s in wall])
    enclosed = float((pool & inside).sum() / pool.sum()) if pool.any() else 0.0
    return confidence + 0.5 * enclosed


class Crop:
    """The myocardium network's output on one box of the input: working-grid probabilities and,
    computed when first asked for, its LV plausibility and, on the input grid, the winning class
    and the largest LV (blood pool + wall) component."""

    def __init__(self, image: np.ndarray, box: Tuple[slice, ...], probs_work: torch.Tensor,
                 unc_work: Optional[torch.Tensor], point_kji: Optional[Sequence[float]] = None):
        self.image, self.box, self.probs_work, self.unc_work = image, box, probs_work, unc_work
        self.point_kji = point_kji  # a reader's point in the LV (input index): its LV is kept

    @cached_property
    def plausibility(self) -> float:
        return lv_plausibility(self.probs_work.numpy())

    @cached_property
    def _classes(self) -> Tuple[np.ndarray, np.ndarray]:
        probs = prep.resample(self.probs_work, self.image[self.box].shape, "linear")
        cls = probs.argmax(0).numpy().astype(np.uint8)
        if self.point_kji is not None:
            local = [float(p) - b.start for p, b in zip(self.point_kji, self.box)]
            return cls, component_nearest(cls > 0, local)
        return cls, _largest_component(cls > 0, probs[1:].sum(0).numpy())

    @property
    def cls(self) -> np.ndarray:
        return self._classes[0]

    @property
    def lv(self) -> np.ndarray:
        return self._classes[1]


def run_on(image, box, spacing_kji, model, task: Task, dev, tta: bool, point_kji=None) -> Crop:
    plan = inference_plan(task, spacing_kji)
    x, _ = to_working(image[box], spacing_kji, plan.spacing_mm)
    return Crop(image, box, *predict(model, task, x[None], dev, tta, plan.planes), point_kji=point_kji)


def recentred(image, spacing_kji, model, task: Task, dev, tta: bool, crop: Crop) -> Tuple[Crop, int]:
    """(crop, passes): the crop redone around the LV the network found in it, with the localizer's
    margin, unless the box barely moves. The localizer's box is coarse (4 mm voxels) and the
    network's output depends on what its crop holds (intensity normalization, context). A
    re-centred crop in which the network finds no LV is not taken."""
    passes = 0
    for _ in range(RECENTRE_PASSES if crop.lv.any() else 0):
        found_lv = np.zeros(image.shape, bool)
        found_lv[crop.box] = crop.lv
        new_box = prep.box_around(found_lv, spacing_kji, LOCALIZER_MARGIN_MM)
        if _box_iou(new_box, crop.box) >= RECENTRE_STABLE_IOU:
            break
        new = run_on(image, new_box, spacing_kji, model, task, dev, tta, crop.point_kji)
        if not new.lv.any():
            break
        crop, passes = new, passes + 1
    return crop, passes


def search_windows(shape, spacing_kji) -> List[Tuple[slice, ...]]:
    """Boxes of SEARCH_WINDOW_MM (or the whole axis when shorter) every SEARCH_STRIDE_MM, the
    last one flush with the far edge, nearest the image centre first."""
    axes = []
    for n, sp in zip(shape, spacing_kji):
        w = int(round(SEARCH_WINDOW_MM / sp))
        if w >= n:
            axes.append([slice(0, n)])
            continue
        starts = list(range(0, n - w + 1, max(1, int(round(SEARCH_STRIDE_MM / sp)))))
        if starts[-1] != n - w:
            starts.append(n - w)
        axes.append([slice(a, a + w) for a in starts])
    boxes = [(a, b, c) for a in axes[0] for b in axes[1] for c in axes[2]]
    # centre first: the heart is usually near the middle of the field of view, and a search cut
    # short by its time limit has then looked where the LV most likely is
    centre = [n / 2.0 for n in shape]
    return sorted(boxes, key=lambda box: sum(((s.start + s.stop) / 2.0 - c) ** 2 * sp ** 2
                                              for s, c, sp in zip(box, centre, spacing_kji)))


def search_lv(image, spacing_kji, model, task: Task, dev, progress=lambda f, m: None,
               time_limit_s: float = None) -> Tuple[Optional[Crop], int, bool]:
    """(crop, windows looked at, finished): the network's output on the most LV-like window of the
    image (without test-time augmentation). An image that needs more than MAX_SEARCH_WINDOWS
    windows has the MAX_SEARCH_WINDOWS nearest its centre looked at (finished False). The search
    stops after ``time_limit_s`` (default SEARCH_TIME_LIMIT_S) with the best window so far (finished
    False). Progress goes from 0.5 to 0.75 and says how long the rest will take, from the windows so far."""
    limit = SEARCH_TIME_LIMIT_S if time_limit_s is None else time_limit_s
    windows = search_windows(image.shape, spacing_kji)
    # A stack at fine pixels in a wide field of view needs more windows than the limit, and there
    # the search had been refused altogether (EMIDEC Case_N042 at 0.75 mm in a 144 mm wider field of
    # view: 169 windows; searched, 4.5 s, LV wall 0.63 -> 0.85). Centre first and the time limit
    # still bound it.
    whole = len(windows) <= MAX_SEARCH_WINDOWS
    windows = windows[:MAX_SEARCH_WINDOWS]
    best: Optional[Crop] = None
    t0 = time.perf_counter()
    for i, box in enumerate(windows):
        elapsed = time.perf_counter() - t0
        if i and elapsed > limit:
            return best, i, False
        if i % 10 == 0:
            left = f", about {elapsed / i * (len(windows) - i):.0f} s left" if i else ""
            progress(0.5 + 0.25 * i / len(windows),
                     f"myocardium: searching the image for the LV (window {i + 1} of {len(windows)}{left})")
        window = run_on(image, box, spacing_kji, model, task, dev, tta=False)
        if best is None or window.plausibility > best.plausibility:
            best = window
    return best, len(windows), whole
