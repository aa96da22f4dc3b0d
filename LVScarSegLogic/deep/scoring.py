"""What training minimizes and what it is judged by: the segmentation loss (cross-entropy + soft
Dice, inside the wall grown by a voxel for scar tasks) and the validation Dice on whole cases,
predicted as at inference."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .. import labels as L
from ..geometry import spacing_kji
from ..masks import dice
from . import data as D
from .tasks import Task

VALIDATION_METRIC = {"localizer": "LV (cavity + wall) Dice", "myocardium": "LV wall Dice",
                     "scar": "infarct Dice, mean of given the true wall and given an observer-like wall"}


def loss_region(x: torch.Tensor, task: Task) -> torch.Tensor:
    """Where the loss counts (batch, *spatial): everywhere, or for scar tasks the wall channel
    grown by a voxel (the contour may be too tight)."""
    if task.target != "scar":
        return torch.ones_like(x[:, 0])
    wall = x[:, 1:2]
    pool = F.max_pool2d if task.dims == 2 else F.max_pool3d
    return pool(wall, 3, 1, 1)[:, 0]  # the wall grown by a voxel: the contour may be too tight


def seg_loss(logits: torch.Tensor, y: torch.Tensor, region: torch.Tensor, task: Task) -> torch.Tensor:
    """Cross-entropy + (1 - mean soft Dice of the foreground classes) inside ``region``."""
    n = logits.shape[1]
    ce = F.cross_entropy(logits.float(), y, reduction="none")
    ce = (ce * region).sum() / region.sum().clamp(min=1.0)
    p = torch.softmax(logits.float(), 1)
    onehot = F.one_hot(y, n).movedim(-1, 1).float()
    r = region[:, None]
    dims = tuple(d for d in range(p.dim()) if d != 1)
    inter = (p * onehot * r).sum(dims)
    denom = ((p + onehot) * r).sum(dims)
    dice = [(2 * inter[c] + 1.0) / (denom[c] + 1.0) for c in range(1, n)]
    if task.target == "scar":  # infarct = scar + MVO is what is measured
        pi, oi = (p[:, 2] + p[:, 3]) * region, (onehot[:, 2] + onehot[:, 3]) * region
        dice.append((2 * (pi * oi).sum() + 1.0) / ((pi + oi).sum() + 1.0))
    return ce + 1.0 - torch.stack(dice).mean()


def validate(model, task: Task, cases: Sequence[D.PreparedCase], device: torch.device) -> float:
    """Mean Dice on whole validation cases, predicted as at inference: localizer LV, myocardium
    wall, scar infarct (cases without infarct count when scar-free) given the true wall and given
    an observer-like wall (borders moved about a voxel in patches), half and half: users draw
    their contours, and an early stop on the true wall alone kept weights that trusted the wall
    too much. A case with a ``model_wall`` (train --model-walls) is also scored given that wall,
    as fully automatic runs give it."""
    from scipy import ndimage as ndi

    from ..phantom.observer import observer_myocardium
    from .prediction import predict

    model.eval()
    scores = []
    for n, case in enumerate(cases):
        if task.target == "localizer":
            probs, _ = predict(model, task, torch.from_numpy(case.loc_image)[None], device)
            scores.append(dice(probs.argmax(0).numpy() == 1, case.loc_lv > 0))
            continue
        image, codes, spacing, planes = case.view(task)  # thick-slice stacks: on their own slices
        wall = np.isin(codes, L.LV_MYOCARDIUM_CODES)
        img = torch.from_numpy(image)
        if task.target == "myocardium":
            probs, _ = predict(model, task, img[None], device, planes=planes)
            scores.append(dice(probs.argmax(0).numpy() == 2, wall))
            continue
        # observer_myocardium takes a Grid's i, j, k spacing; the view's is k, j, i (the same flip)
        drawn = observer_myocardium(wall, spacing_kji(spacing), seed=n, cavity=codes == L.BLOODPOOL)
        # a case with a model's wall (train --model-walls) is scored given that wall as well
        model_wall = [] if case.model_wall is None else [case.model_wall > 0]
        for given in [wall, drawn] + model_wall:
            probs, _ = predict(model, task, torch.stack([img, torch.from_numpy(given).float()]), device, planes=planes)
            # as at inference: only in the given wall grown by a voxel
            pred = np.isin(probs.argmax(0).numpy(), (2, 3)) & ndi.binary_dilation(given)
            scores.append(dice(pred, np.isin(codes, L.INFARCT_CODES)))
    model.train()
    return float(np.mean(scores)) if scores else float("nan")
