"""Inference: verified model loading, batched 2D / whole-volume 3D prediction with optional
test-time augmentation, LV localization, myocardium and scar segmentation on the input grid.

Arrays are (k, j, i) on the input grid unless named ``*_work`` (working grid). Results are
deterministic: networks run in eval mode (dropout off), on CPU with a fixed thread count, on
CUDA with cuDNN's deterministic algorithms.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .. import geometry
from ..errors import InputError
from . import prep
from .networks import build, pick_device
from .tasks import TASKS, Task

# Larger 3D inputs run in overlapping windows (memory stays bounded on CPU and GPU).
WHOLE_VOLUME_MAX_VOXELS = 160 ** 3
SLICE_BATCH = 32
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
# 1.35-1.375), and no exam below wall Dice 0.3.
LOW_PLAUSIBILITY = 0.75
SEARCH_ACCEPT = 1.0
THICK_SLICE_LOW_PLAUSIBILITY = 1.0
THICK_SLICE_SEARCH_ACCEPT = 1.35
SEARCH_WINDOW_MM = 120.0
SEARCH_STRIDE_MM = 30.0
MAX_SEARCH_WINDOWS = 150
SEARCH_TIME_LIMIT_S = 30.0  # the search stops here with the best window so far (a bounded worst case)
# A stack whose slices lie more than geometry.THICK_SLICE_RATIO pixels apart is segmented the way
# it was acquired: in-plane, slice by slice, on its own slices. Through-plane views of a 10 mm
# stack interpolated to 1.25 mm are blends of neighbouring slices that no scanner made.
THICK_SLICE_RATIO = geometry.THICK_SLICE_RATIO


def thick_slice_axis(spacing_kji) -> Optional[int]:
    """The slice axis (0, 1 or 2 of k, j, i) of a thick-slice stack by THICK_SLICE_RATIO
    (geometry.thick_slice_axis; spacings here in k, j, i order); None for a near-isotropic volume."""
    return geometry.thick_slice_axis(np.asarray(spacing_kji, dtype=float)[::-1], THICK_SLICE_RATIO)


@dataclass(frozen=True)
class Plan:
    """How a network sees an input: the working spacing per axis (k, j, i; mm), the array axes a
    2D network's slices are taken across (empty for 3D networks), and a sentence for the report."""
    spacing_mm: Tuple[float, float, float]
    planes: Tuple[int, ...]
    description: str
    thick_slices: bool = False

    @property
    def search_thresholds(self) -> Tuple[float, float]:
        """(plausibility below which the image is searched, plausibility a search window needs)."""
        if self.thick_slices:
            return THICK_SLICE_LOW_PLAUSIBILITY, THICK_SLICE_SEARCH_ACCEPT
        return LOW_PLAUSIBILITY, SEARCH_ACCEPT


def inference_plan(task: Task, spacing_kji) -> Plan:
    """Thick-slice stacks: a 2D network runs on the image's own slices (in-plane resampled to the
    working spacing, never interpolated through-plane). Near-isotropic volumes: the task's planes
    of an isotropic working grid (several planes: probabilities averaged). 3D networks: the
    isotropic working grid."""
    iso = (task.spacing_mm,) * 3
    if task.dims == 3:
        return Plan(iso, (), f"3D, on a {task.spacing_mm:g} mm grid")
    axis = thick_slice_axis(spacing_kji)
    if axis is not None:
        spacing = list(iso)
        spacing[axis] = float(spacing_kji[axis])
        pixel = float(np.delete(np.asarray(spacing_kji, dtype=float), axis).max())
        return Plan(tuple(spacing), (axis,), f"in-plane, slice by slice on the image's own slices (slice spacing "
                    f"{spacing_kji[axis]:g} mm > {THICK_SLICE_RATIO:g} x the {pixel:g} mm pixel), "
                    f"{task.spacing_mm:g} mm in-plane", thick_slices=True)
    if len(task.planes) > 1:
        return Plan(iso, task.planes, f"multi-planar: {len(task.planes)} planes of a {task.spacing_mm:g} mm grid, "
                    "probabilities averaged")
    return Plan(iso, task.planes, f"in-plane, slice by slice on a {task.spacing_mm:g} mm grid")


def _configure(device: torch.device) -> None:
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


@lru_cache(maxsize=8)
def _load(path: str, sha: str, device: str):
    from safetensors.torch import load_file

    from ..models import verified_manifest

    info = verified_manifest(path)
    task = TASKS.get(str(info.get("task")))
    if task is None:
        raise InputError(f"{path}: the manifest names no known task ({info.get('task')!r})")
    args = info.get("network_args", task.network_args)
    model = build(task.network, task.dims, task.in_channels, len(task.classes), **args)
    try:
        state = load_file(path, device="cpu")
        model.load_state_dict(state)
    except Exception as exc:
        raise InputError(f"{path}: not a valid {task.name} model ({str(exc).splitlines()[0]})") from None
    model.eval().to(device)
    return model, task, info


def load_model(task_name: str, path: Optional[str] = None, device: str = "auto"):
    """(model, task, manifest) for the model file ``path``, or the task's default model (the
    "best" model set; ``registry.use_model_set`` names the file for other sets)."""
    from ..files import sha256_of
    from ..models import ENV_VAR, default_model_path

    p = Path(path) if path else default_model_path(task_name)
    if not p.is_file():
        hint = f"train one with `lvscarseg train --task {task_name}`" + ("" if path else f" or set {ENV_VAR}")
        raise InputError(f"{p}: no {task_name} model file; {hint}")
    dev = pick_device(device)
    _configure(dev)
    model, task, info = _load(str(p.resolve()), sha256_of(p), str(dev))
    if task.name != task_name:
        raise InputError(f"{p}: a {task.name} model cannot be used as {task_name}")
    return model, task, info


def _forward(model, x: torch.Tensor, dims: int) -> torch.Tensor:
    """Softmax probabilities of a batch (n, C, *spatial), padded to a multiple of 8 and back."""
    padded, undo = prep.pad_to_multiple(x, 8, dims)
    with torch.inference_mode():
        p = torch.softmax(model(padded).float(), dim=1)
    return p[(slice(None), slice(None)) + undo]


def _predict_once(model, task: Task, x: torch.Tensor, device: torch.device,
                  planes: Optional[Tuple[int, ...]] = None) -> torch.Tensor:
    """Probabilities (classes, k, j, i) for one volume x (C, k, j, i); a 2D network's slices are
    taken across ``planes`` (default: the task's)."""
    if task.dims == 3:
        if x[0].numel() > WHOLE_VOLUME_MAX_VOXELS:
            from monai.inferers import sliding_window_inference

            with torch.inference_mode():
                logits = sliding_window_inference(x[None].to(device), (96, 96, 96), 4, model, overlap=0.25,
                                                  mode="gaussian")
            return torch.softmax(logits.float(), 1)[0].cpu()
        return _forward(model, x[None].to(device), 3)[0].cpu()
    total = None
    planes = planes or task.planes
    for plane in planes:
        xs = x.movedim(plane + 1, 0)  # (n slices, C, a, b)
        parts = [_forward(model, xs[s:s + SLICE_BATCH].to(device), 2).cpu() for s in range(0, xs.shape[0], SLICE_BATCH)]
        probs = torch.cat(parts, 0).movedim(0, plane + 1)  # (classes, k, j, i)
        total = probs if total is None else total + probs
    return total / len(planes)


def predict(model, task: Task, x: torch.Tensor, device: torch.device, tta: bool = False,
            planes: Optional[Tuple[int, ...]] = None) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """(probabilities (classes, k, j, i), disagreement or None) for x (C, k, j, i) on the working grid.

    With ``tta`` the volume is also predicted mirrored along the in-plane axes; the probabilities
    are averaged and the disagreement is the largest per-class standard deviation across the
    mirrored predictions (0 = all agree), a map for visual QA."""
    if not tta:
        return _predict_once(model, task, x, device, planes), None
    flips = [(), (2,), (3,), (2, 3)]
    preds = []
    for f in flips:
        xi = x.flip([a for a in f]) if f else x
        p = _predict_once(model, task, xi, device, planes)
        preds.append(p.flip([a for a in f]) if f else p)
    stack = torch.stack(preds)
    return stack.mean(0), stack.std(0, unbiased=False).amax(0)


def _to_working(image: np.ndarray, spacing_kji, target_mm) -> Tuple[torch.Tensor, Tuple[int, ...]]:
    shape = prep.working_shape(image.shape, spacing_kji, target_mm)
    work = prep.resample(torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)), shape, "linear")
    return torch.from_numpy(prep.normalize(work.numpy())), shape


def _largest_component(mask: np.ndarray, weight: Optional[np.ndarray] = None) -> np.ndarray:
    from scipy import ndimage as ndi

    labels, n = ndi.label(mask)
    if n <= 1:
        return mask
    scores = ndi.sum(weight if weight is not None else mask, labels, index=np.arange(1, n + 1))
    return labels == (int(np.argmax(scores)) + 1)


def _component_nearest(mask: np.ndarray, point_kji: Sequence[float]) -> np.ndarray:
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


def _box_at(point_kji: Sequence[float], shape, spacing_kji) -> Tuple[slice, ...]:
    """A SEARCH_WINDOW_MM box (clipped to the image) centred on a point (voxel index, k, j, i)."""
    box = []
    for p, n, sp in zip(point_kji, shape, spacing_kji):
        half = SEARCH_WINDOW_MM / 2.0 / sp
        lo, hi = int(np.floor(p - half)), int(np.ceil(p + half)) + 1
        box.append(slice(max(lo, 0), min(hi, n)))
    return tuple(box)


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
    than 5 % of the strongest are dropped. Empty when the localizer finds no LV."""
    from scipy import ndimage as ndi

    model, task, info = load_model("lv-localizer", model_path, device)
    x, shape = _to_working(image, spacing_kji, task.spacing_mm)
    probs, _ = predict(model, task, x[None], pick_device(device))
    lv_prob = probs[1].numpy()
    details = {"model": info.get("name"), "model_sha256": info.get("sha256")}
    labels, n = ndi.label(lv_prob >= 0.5)
    if (labels > 0).sum() < 8:
        return [], details
    scores = ndi.sum(lv_prob, labels, index=np.arange(1, n + 1))
    order = np.argsort(-scores, kind="stable")[:max_candidates]
    found = []
    for c in order:
        if scores[c] < CANDIDATE_MIN_FRACTION * scores[order[0]]:
            break
        found.append((_box_in_input(labels == c + 1, image.shape, shape, spacing_kji), float(scores[c])))
    return found, details


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


class _Crop:
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
            return cls, _component_nearest(cls > 0, local)
        return cls, _largest_component(cls > 0, probs[1:].sum(0).numpy())

    @property
    def cls(self) -> np.ndarray:
        return self._classes[0]

    @property
    def lv(self) -> np.ndarray:
        return self._classes[1]


def _run_on(image, box, spacing_kji, model, task: Task, dev, tta: bool, point_kji=None) -> _Crop:
    plan = inference_plan(task, spacing_kji)
    x, _ = _to_working(image[box], spacing_kji, plan.spacing_mm)
    return _Crop(image, box, *predict(model, task, x[None], dev, tta, plan.planes), point_kji=point_kji)


def _recentred(image, spacing_kji, model, task: Task, dev, tta: bool, crop: _Crop) -> Tuple[_Crop, int]:
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
        new = _run_on(image, new_box, spacing_kji, model, task, dev, tta, crop.point_kji)
        if not new.lv.any():
            break
        crop, passes = new, passes + 1
    return crop, passes


def _search_windows(shape, spacing_kji) -> List[Tuple[slice, ...]]:
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


def _search_lv(image, spacing_kji, model, task: Task, dev, progress=lambda f, m: None,
               time_limit_s: float = None) -> Tuple[Optional[_Crop], int, bool]:
    """(crop, windows looked at, finished): the network's output on the most LV-like window of the
    image (without test-time augmentation), or (None, n, False) when the image needs more than
    MAX_SEARCH_WINDOWS windows (large 3D volumes: too slow). The search stops after
    ``time_limit_s`` (default SEARCH_TIME_LIMIT_S) with the best window so far (finished False).
    Progress goes from 0.5 to 0.75 and says how long the rest will take, from the windows so far."""
    import time

    limit = SEARCH_TIME_LIMIT_S if time_limit_s is None else time_limit_s
    windows = _search_windows(image.shape, spacing_kji)
    if len(windows) > MAX_SEARCH_WINDOWS:
        return None, len(windows), False
    best: Optional[_Crop] = None
    t0 = time.perf_counter()
    for i, box in enumerate(windows):
        elapsed = time.perf_counter() - t0
        if i and elapsed > limit:
            return best, i, False
        if i % 10 == 0:
            left = f", about {elapsed / i * (len(windows) - i):.0f} s left" if i else ""
            progress(0.5 + 0.25 * i / len(windows),
                     f"myocardium: searching the image for the LV (window {i + 1} of {len(windows)}{left})")
        window = _run_on(image, box, spacing_kji, model, task, dev, tta=False)
        if best is None or window.plausibility > best.plausibility:
            best = window
    return best, len(windows), True


def segment_myocardium(image: np.ndarray, spacing_kji, method: str, device: str = "auto", tta: bool = False,
                       model_path: Optional[str] = None, localizer_path: Optional[str] = None,
                       progress=lambda f, m: None, localize_lv: bool = True,
                       lv_center_kji: Optional[Tuple[float, float, float]] = None
                       ) -> Tuple[np.ndarray, Optional[np.ndarray], Dict, List[str]]:
    """(codes (0 background, 1 blood pool, 2 LV wall) on the input grid, disagreement map or None,
    details, warnings) for a myocardium network ``method`` (unet, cmpunet, gan).
    ``lv_center_kji``: a point inside the LV cavity (input voxel index, k, j, i), e.g. a reader's
    click: no localizer, no search; the crop is centred there and the LV containing (or nearest
    to) the point is kept. ``localize_lv`` False: the network searches the whole image (slower; for
    images that are already a crop around the heart)."""
    from .. import labels as L

    warnings: List[str] = []
    task_name = f"myocardium-{method}"
    model, task, info = load_model(task_name, model_path, device)  # fail on a missing model before localizing
    plan = inference_plan(task, spacing_kji)
    low, accept = plan.search_thresholds
    boxes: List[Tuple[slice, ...]] = [tuple(slice(0, n) for n in image.shape)]  # the whole image unless localized
    loc: Dict[str, object] = {"used": False}
    localized = False
    if lv_center_kji is not None:
        boxes = [_box_at(lv_center_kji, image.shape, spacing_kji)]
        loc = {"used": False, "lv_center_kji": [round(float(v), 2) for v in lv_center_kji]}
    elif localize_lv:
        progress(0.05, "locating the LV")
        found, loc = localize_candidates(image, spacing_kji, device, localizer_path)
        localized = bool(found)
        if found:
            boxes = [b for b, _ in found]
            loc["candidates"] = [{"box_kji": [[s.start, s.stop] for s in b], "localizer_score": round(score, 1)}
                                 for b, score in found]
        else:
            warnings.append("the LV localizer found no LV; the whole image was searched")
    dev = pick_device(device)
    crop, chosen = None, 0
    for i, box in enumerate(boxes):
        progress(0.15 + 0.6 * i / len(boxes), f"myocardium: {method}" + (f" (LV candidate {i + 1})" if i else ""))
        candidate = _run_on(image, box, spacing_kji, model, task, dev, tta, lv_center_kji)
        if len(boxes) > 1:
            loc["candidates"][i]["lv_plausibility"] = round(candidate.plausibility, 3)
            # The localizer's strongest candidate stands unless another is clearly more LV-like.
            if crop is not None and candidate.plausibility <= crop.plausibility + SWITCH_MARGIN:
                continue
        crop, chosen = candidate, i
    if localized or lv_center_kji is not None:  # a crop placed on an LV: re-centre it and judge it
        if localized:
            loc["chosen"] = chosen
            if chosen:
                warnings.append(f"the LV localizer's strongest candidate did not look like an LV to the {method} "
                                f"myocardium model; candidate {chosen + 1} of {len(boxes)} was used (check the LV "
                                "position)")
        else:
            progress(0.5, "myocardium: the crop around the given LV centre")
        crop, loc["recentred"] = _recentred(image, spacing_kji, model, task, dev, tta, crop)
        score = crop.plausibility
        loc["lv_plausibility"] = round(score, 3)
        if score < low and not localized:  # the reader's point is not searched past
            warnings.append(f"the wall found around the given LV centre does not look like an LV to the {method} "
                            f"myocardium model (score {score:.2f}, usually > {low:g}); check the wall")
        elif score < low:
            # An output that does not look like an LV (on EMIDEC's training exams, every exam whose
            # LV was missed scored < 0.75) starts a search with windows over the image; a window is
            # taken only when its output clearly is one.
            progress(0.5, "myocardium: the LV found does not look like one; searching the image")
            found, n_windows, finished = _search_lv(image, spacing_kji, model, task, dev, progress)
            found_score = found.plausibility if found is not None else 0.0
            loc["search"] = {"windows": n_windows, "best_lv_plausibility": round(found_score, 3), "finished": finished}
            if found is not None and not finished:
                warnings.append(f"the search for the LV stopped after {SEARCH_TIME_LIMIT_S:g} s and {n_windows} windows "
                                "(the best window so far was used if it looked like an LV)")
            if found is not None and found_score >= accept:
                # the window was scored without test-time augmentation; rerun it only when asked for
                crop = _run_on(image, found.box, spacing_kji, model, task, dev, tta) if tta else found
                crop, passes = _recentred(image, spacing_kji, model, task, dev, tta, crop)
                loc["recentred"] += passes
                loc["searched"] = True
                warnings.append(f"the LV localizer's LV did not look like an LV to the {method} myocardium model "
                                f"(score {score:.2f}); a search of the image found a better one (check the LV position)")
            else:
                warnings.append(f"the LV found does not look like an LV to the {method} myocardium model (score "
                                f"{score:.2f}, usually > {low:g}); check its position and the wall")
        loc["box_kji"] = [[s.start, s.stop] for s in crop.box]
    cls = crop.cls.copy()
    cls[~crop.lv] = 0
    codes = np.zeros(image.shape, np.uint8)
    codes[crop.box] = np.where(cls == 2, L.MYOCARDIUM, np.where(cls == 1, L.BLOODPOOL, L.BACKGROUND))
    uncertainty = None
    if crop.unc_work is not None:
        uncertainty = np.zeros(image.shape, np.float32)
        uncertainty[crop.box] = prep.resample(crop.unc_work, cls.shape, "linear").numpy()
    details = {"model": info.get("name"), "model_sha256": info.get("sha256"), "localizer": loc,
               "working_spacing_mm": task.spacing_mm, "inference": plan.description,
               "tta": tta}
    if not (codes == L.MYOCARDIUM).any():
        warnings.append(f"the {method} myocardium model found no LV wall")
    return codes, uncertainty, details, warnings


def scar_probabilities(image: np.ndarray, wall: np.ndarray, spacing_kji, method: str, device: str = "auto",
                       tta: bool = False, model_path: Optional[str] = None):
    """(probabilities (healthy, grayzone, scar, mvo) on the input grid, disagreement or None, the
    model's manifest with ``inference``: how the network saw the image) for a wall-cropped image
    and its wall mask."""
    model, task, info = load_model(f"scar-{method}", model_path, device)
    plan = inference_plan(task, spacing_kji)
    x, shape = _to_working(image, spacing_kji, plan.spacing_mm)
    wall_work = prep.resample(torch.from_numpy(wall.astype(np.float32)), shape, "linear") >= 0.5
    xw = torch.stack([x, wall_work.float()])
    probs_work, unc_work = predict(model, task, xw, pick_device(device), tta, plan.planes)
    probs = prep.resample(probs_work, image.shape, "linear")
    unc = prep.resample(unc_work, image.shape, "linear").numpy() if unc_work is not None else None
    return probs.numpy(), unc, dict(info, inference=plan.description)
