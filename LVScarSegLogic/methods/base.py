"""What a scar method receives and returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from ..geometry import Grid


def _no_progress(fraction: float, message: str) -> None:
    pass


@dataclass
class ScarInput:
    """Inputs of a scar method.

    image: float32 (k, j, i); myocardium: bool (k, j, i), the whole LV wall to search in;
    grid: geometry (spacing in mm); seeds: voxel indices (k, j, i) inside the image;
    remote: optional bool mask of remote (healthy) myocardium drawn by the user.
    """

    image: np.ndarray
    myocardium: np.ndarray
    grid: Grid
    seeds: List[Tuple[int, int, int]] = field(default_factory=list)
    remote: Optional[np.ndarray] = None
    progress: Callable[[float, str], None] = _no_progress


@dataclass
class ScarResult:
    """Masks inside the myocardium (bool, (k, j, i)); ``info`` holds thresholds and statistics for the report."""

    scar: np.ndarray
    grayzone: Optional[np.ndarray] = None
    mvo: Optional[np.ndarray] = None
    info: Dict[str, object] = field(default_factory=dict)
    warnings: List[str] = field(default_factory=list)
