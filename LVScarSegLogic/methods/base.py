"""What a scar method receives and returns, plus the cached reference measurements all
methods share (remote myocardium statistics, LV cavity, blood signal)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from ..geometry import Grid


def _no_progress(fraction: float, message: str) -> None:
    pass


@dataclass
class ScarInput:
    """Inputs of a scar method, cropped to the myocardium's neighbourhood.

    image: float32 (k, j, i); myocardium: bool (k, j, i), the whole LV wall to search in;
    grid: geometry of the crop (spacing in mm); seeds: voxel indices (k, j, i) in the crop;
    remote: optional user mask of remote (healthy) myocardium; bloodpool: optional LV cavity
    mask (from a coded myocardium input), otherwise derived from the wall; device: where
    deep-learning methods run.
    """

    image: np.ndarray
    myocardium: np.ndarray
    grid: Grid
    seeds: List[Tuple[int, int, int]] = field(default_factory=list)
    remote: Optional[np.ndarray] = None
    bloodpool: Optional[np.ndarray] = None
    progress: Callable[[float, str], None] = _no_progress
    device: str = "auto"  # deep-learning methods: auto, cpu or cuda
    wall_given: bool = True  # the reader's wall (kept voxel for voxel unless a parameter opts in), not a model's
    _cache: Dict[str, object] = field(default_factory=dict, repr=False)

    @property
    def spacing(self):
        return self.grid.spacing

    def cached(self, key: str, compute: Callable[[], object]):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]


@dataclass
class ScarResult:
    """Masks inside the myocardium (bool, (k, j, i)); ``info`` holds thresholds and statistics for the report."""

    scar: np.ndarray
    grayzone: Optional[np.ndarray] = None
    mvo: Optional[np.ndarray] = None
    info: Dict[str, object] = field(default_factory=dict)
    warnings: List[str] = field(default_factory=list)
    uncertainty: Optional[np.ndarray] = None  # float32 disagreement map (test-time augmentation), or None

    @property
    def infarct(self) -> np.ndarray:
        """Scar and MVO: MVO counts as infarct (SCMR)."""
        return self.scar | self.mvo if self.mvo is not None else self.scar
