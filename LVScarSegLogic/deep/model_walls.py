"""Walls as a myocardium model draws them, for training a scar network on them.

Fully automatic, a scar network is given the myocardium model's wall (with one voxel of cavity,
``masks.with_endocardial_ring``), not a reader's. That wall's errors are not an observer's: its
endocardial border runs through bright subendocardial infarct, so a third of the infarct lies in
what the model called blood pool (EMIDEC held-out exams). A scar network that only ever saw the
true wall, or one moved about a voxel in smooth patches (``augment.observer_wall``), has not
learned what infarct looks like next to such a wall. ``train --model-walls F`` gives a fraction F
of the training samples the wall the myocardium model draws on that very case.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from ..masks import with_endocardial_ring
from .data import PreparedCase
from .tasks import Task


def attach_model_walls(cases: Sequence[PreparedCase], task: Task, model_path: Optional[str] = None,
                       device: str = "cpu", progress: Callable[[float, str], None] = lambda f, m: None) -> int:
    """Set ``case.model_wall`` (uint8, on ``case.view(task)``'s grid) for every case: the wall the
    myocardium model (``model_path``, default the shipped default) draws on the case's crop, as at
    inference on a crop around the heart (no localizer), with its endocardial ring. Returns how
    many cases got a non-empty wall."""
    from .infer import segment_myocardium

    done = 0
    for n, case in enumerate(cases):
        image, _, spacing_kji, _ = case.view(task)
        codes, _, _, _ = segment_myocardium(image, spacing_kji, "cmpunet", device, model_path=model_path,
                                            localize_lv=False)
        wall = codes == 2
        ring = with_endocardial_ring(wall, (codes == 1) & ~wall, tuple(spacing_kji)[::-1])
        case.model_wall = ring.astype(np.uint8)
        done += bool(ring.any())
        progress((n + 1) / max(len(cases), 1), f"model walls: {n + 1}/{len(cases)}")
    return done
