"""Prediction: how a network sees an input (the inference plan: working spacing and the planes a
2D network's slices are taken across), batched 2D / whole-volume 3D prediction, and test-time
augmentation. Arrays are (k, j, i); spacings in k, j, i order (mm). Results are deterministic:
networks run in eval mode (dropout off), on CPU with a fixed thread count, on CUDA with cuDNN's
deterministic algorithms (loading.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
import torch

from .. import geometry
from . import prep
from .tasks import Task

# Larger 3D inputs run in overlapping windows (memory stays bounded on CPU and GPU).
WHOLE_VOLUME_MAX_VOXELS = 160 ** 3
SLICE_BATCH = 32
# A stack whose slices lie more than geometry.THICK_SLICE_RATIO pixels apart is segmented the way
# it was acquired: in-plane, slice by slice, on its own slices. Through-plane views of a 10 mm
# stack interpolated to 1.25 mm are blends of neighbouring slices that no scanner made.
THICK_SLICE_RATIO = geometry.THICK_SLICE_RATIO


def thick_slice_axis(spacing_kji) -> Optional[int]:
    """The slice axis (0, 1 or 2 of k, j, i) of a thick-slice stack by THICK_SLICE_RATIO
    (geometry.thick_slice_axis; spacings here in k, j, i order); None for a near-isotropic volume."""
    return geometry.thick_slice_axis(geometry.spacing_kji(spacing_kji), THICK_SLICE_RATIO)  # k,j,i -> i,j,k: the same flip


@dataclass(frozen=True)
class Plan:
    """How a network sees an input: the working spacing per axis (k, j, i; mm), the array axes a
    2D network's slices are taken across (empty for 3D networks), and a sentence for the report."""
    spacing_mm: Tuple[float, float, float]
    planes: Tuple[int, ...]
    description: str
    thick_slices: bool = False


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


def to_working(image: np.ndarray, spacing_kji, target_mm) -> Tuple[torch.Tensor, Tuple[int, ...]]:
    shape = prep.working_shape(image.shape, spacing_kji, target_mm)
    work = prep.resample(torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)), shape, "linear")
    return torch.from_numpy(prep.normalize(work.numpy())), shape
