"""Image grid geometry and the one place where LPS and RAS are converted.

Conventions used throughout the engine:
- voxel arrays are numpy arrays in (k, j, i) order (slowest axis first), as SimpleITK
  and ``slicer.util.arrayFromVolume`` return them;
- ``spacing`` is (i, j, k) in millimetres, ``origin`` is the physical position of voxel
  (0, 0, 0) in LPS millimetres, and ``direction`` is a 3x3 matrix whose *columns* are the
  unit vectors of the i, j and k axes in LPS (ITK / DICOM convention).
- ``ijk_to_lps`` is the 4x4 matrix with columns ``direction * spacing`` and ``origin``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

# Flipping the first two axes turns LPS into RAS and back. Every conversion in the engine
# goes through the two functions below.
_LPS_RAS_FLIP = np.diag([-1.0, -1.0, 1.0])


def lps_to_ras_points(points_lps) -> np.ndarray:
    """Physical points (N, 3) or (3,) from LPS to RAS millimetres."""
    return np.asarray(points_lps, dtype=float) @ _LPS_RAS_FLIP


def ras_to_lps_points(points_ras) -> np.ndarray:
    """Physical points (N, 3) or (3,) from RAS to LPS millimetres."""
    return np.asarray(points_ras, dtype=float) @ _LPS_RAS_FLIP


# Slices more than this many pixels apart make a thick-slice stack for the networks, the quality
# check and the QA pictures (the scar methods' own rule is 2.5, masks.slice_axis).
THICK_SLICE_RATIO = 3.0


def spacing_kji(spacing_ijk: Sequence[float]) -> np.ndarray:
    """Voxel spacing in numpy axis order (k, j, i), from a Grid's (i, j, k) spacing (mm)."""
    return np.asarray(spacing_ijk, dtype=float)[::-1]


def thick_slice_axis(spacing_ijk: Sequence[float], ratio: float) -> Optional[int]:
    """The numpy axis (0, 1 or 2 of k, j, i) of a thick-slice stack: the axis whose spacing is more
    than ``ratio`` times every other axis's (e.g. 1.4 x 1.4 x 8 mm); None for a near-isotropic
    volume. ``spacing_ijk`` in (i, j, k) order, as a Grid gives it."""
    sp = spacing_kji(spacing_ijk)
    axis = int(np.argmax(sp))
    return axis if sp[axis] > ratio * np.delete(sp, axis).max() else None


def lps_to_ras_matrix(matrix_lps: np.ndarray) -> np.ndarray:
    """A 4x4 IJK-to-LPS matrix as IJK-to-RAS (what Slicer's ``SetIJKToRASMatrix`` takes)."""
    flip = np.eye(4)
    flip[:3, :3] = _LPS_RAS_FLIP
    return flip @ np.asarray(matrix_lps, dtype=float)


@dataclass(frozen=True)
class Grid:
    """A voxel grid in physical space.

    shape: (k, j, i) voxel counts (numpy order); spacing: (i, j, k) mm; origin: LPS mm;
    direction: 3x3, columns are the i, j, k axis unit vectors in LPS.
    """

    shape: Tuple[int, int, int]
    spacing: Tuple[float, float, float]
    origin: Tuple[float, float, float]
    direction: Tuple[Tuple[float, float, float], ...]

    @staticmethod
    def make(shape: Sequence[int], spacing: Sequence[float], origin: Sequence[float],
             direction) -> "Grid":
        d = np.asarray(direction, dtype=float).reshape(3, 3)
        return Grid(tuple(int(s) for s in shape), tuple(float(s) for s in spacing),
                    tuple(float(o) for o in origin), tuple(tuple(float(v) for v in row) for row in d))

    @property
    def size_ijk(self) -> Tuple[int, int, int]:
        """Voxel counts in (i, j, k) order, as NRRD/ITK/Slicer print them."""
        return (self.shape[2], self.shape[1], self.shape[0])

    @property
    def direction_matrix(self) -> np.ndarray:
        return np.array(self.direction, dtype=float)

    @property
    def ijk_to_lps(self) -> np.ndarray:
        m = np.eye(4)
        m[:3, :3] = self.direction_matrix * np.asarray(self.spacing)[None, :]
        m[:3, 3] = self.origin
        return m

    @property
    def ijk_to_ras(self) -> np.ndarray:
        return lps_to_ras_matrix(self.ijk_to_lps)

    @property
    def spacing_kji(self) -> np.ndarray:
        """The spacing in numpy axis order (k, j, i), mm."""
        return spacing_kji(self.spacing)

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in millilitres (spacing in mm; 1 mL = 1000 mm^3)."""
        return float(np.prod(self.spacing)) / 1000.0

    def lps_to_ijk(self, points_lps) -> np.ndarray:
        """Continuous voxel indices (N, 3) in (i, j, k) order for LPS points."""
        pts = np.atleast_2d(np.asarray(points_lps, dtype=float))
        return np.linalg.solve(self.ijk_to_lps[:3, :3], (pts - np.asarray(self.origin)).T).T

    def ijk_to_lps_points(self, ijk) -> np.ndarray:
        pts = np.atleast_2d(np.asarray(ijk, dtype=float))
        return pts @ self.ijk_to_lps[:3, :3].T + np.asarray(self.origin)

    def ras_to_kji_index(self, point_ras) -> Tuple[int, int, int]:
        """Nearest voxel (k, j, i) for a RAS point (as Slicer markups give them)."""
        i, j, k = np.rint(self.lps_to_ijk(ras_to_lps_points(point_ras))[0]).astype(int)
        return int(k), int(j), int(i)

    def contains_kji(self, index) -> bool:
        return all(0 <= int(x) < n for x, n in zip(index, self.shape))

    def same_as(self, other: "Grid", tol_mm: float = 1e-4) -> bool:
        """True when both grids put every voxel at the same place (within tol_mm)."""
        if self.shape != other.shape:
            return False
        return bool(np.allclose(self.ijk_to_lps, other.ijk_to_lps, atol=tol_mm, rtol=0))

    def differences(self, other: "Grid") -> str:
        """What differs from ``other``, in words: size, spacing, origin (mm apart), axes (degrees)."""
        out = []
        if self.size_ijk != other.size_ijk:
            out.append(f"size {'x'.join(map(str, self.size_ijk))} vs {'x'.join(map(str, other.size_ijk))}")
        if not np.allclose(self.spacing, other.spacing, rtol=0, atol=1e-4):
            out.append("spacing " + "x".join(f"{s:g}" for s in self.spacing) + " vs "
                       + "x".join(f"{s:g}" for s in other.spacing) + " mm")
        shift = float(np.linalg.norm(np.asarray(self.origin) - np.asarray(other.origin)))
        if shift > 1e-3:
            out.append(f"origin {shift:.1f} mm apart")
        cos = np.clip(np.abs(np.sum(self.direction_matrix * other.direction_matrix, axis=0)), 0.0, 1.0)
        angle = float(np.degrees(np.arccos(cos.min())))
        if angle > 0.01:
            out.append(f"axes turned up to {angle:.1f} degrees")
        return ", ".join(out) or "the same grid"

    def describe(self) -> str:
        sp = "x".join(f"{s:g}" for s in self.spacing)
        sz = "x".join(str(s) for s in self.size_ijk)
        return f"{sz} voxels of {sp} mm"
