"""Smooth random fields, tabulated once and interpolated at arbitrary points (fast)."""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

ALPHA_BINS = 360  # 1 degree
U_BINS = 120  # along the long axis, u in [0, 1.2]
U_MAX = 1.2


class AngularTable:
    """A function of (alpha degrees, u) tabulated on a periodic-in-alpha grid."""

    def __init__(self, table: np.ndarray):
        self.table = np.asarray(table, dtype=np.float32)

    @staticmethod
    def fourier(rng: np.random.Generator, amplitude: float, max_order: int = 4, u_orders: int = 3,
                decay: float = 1.5) -> "AngularTable":
        """Random low-order Fourier series with unit RMS scaled to ``amplitude``."""
        a = np.deg2rad(np.arange(ALPHA_BINS))[:, None]
        u = np.linspace(0, U_MAX, U_BINS)[None, :]
        f = np.zeros((ALPHA_BINS, U_BINS))
        for m in range(1, max_order + 1):
            for n in range(u_orders):
                f += rng.normal() / m ** decay * np.cos(m * a + rng.uniform(0, 2 * np.pi)) * np.cos(
                    n * np.pi * u / U_MAX + rng.uniform(0, 2 * np.pi))
        f *= amplitude / max(f.std(), 1e-9)
        return AngularTable(f)

    def __call__(self, alpha_deg: np.ndarray, u: np.ndarray) -> np.ndarray:
        ai = np.mod(alpha_deg, 360.0) * (ALPHA_BINS / 360.0)
        ui = np.clip(u, 0, U_MAX) * ((U_BINS - 1) / U_MAX)
        # Pad one column in alpha so that bilinear interpolation wraps around.
        padded = np.concatenate([self.table, self.table[:1]], axis=0)
        return ndi.map_coordinates(padded, [ai, ui], order=1, mode="nearest")


class VolumeField:
    """Gaussian-smoothed white noise on a box in heart coordinates, unit SD, interpolated trilinearly."""

    def __init__(self, rng: np.random.Generator, lo, hi, correlation_mm: float, step_mm: float = 1.0):
        self.lo = np.asarray(lo, dtype=float)
        self.step = step_mm
        shape = np.ceil((np.asarray(hi) - self.lo) / step_mm).astype(int) + 2
        f = ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32), correlation_mm / step_mm, mode="wrap")
        self.table = f / max(float(f.std()), 1e-9)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        idx = ((points - self.lo) / self.step).T
        return ndi.map_coordinates(self.table, idx, order=1, mode="nearest")
