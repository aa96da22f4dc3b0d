"""Chest tissues around the heart, in patient LPS millimetres relative to the body centre."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .anatomy import AIR, AORTA_DESC, BONE, LIVER, LUNG, MEDIASTINUM, MUSCLE, SUBCUT_FAT


@dataclass
class BodyParams:
    half_lr: float = 160.0  # body ellipse semi-axis, left-right (mm)
    half_ap: float = 110.0  # anterior-posterior
    subcut_fat_mm: float = 10.0
    chest_wall_mm: float = 18.0
    diaphragm_z: float = -70.0  # liver dome apex (S coordinate), relative to the body centre


def body_tissues(pts_lps: np.ndarray, b: BodyParams) -> np.ndarray:
    """Tissue class of each point (N, 3): LPS mm relative to the body centre (x left, y posterior, z superior)."""
    x, y, z = pts_lps[:, 0], pts_lps[:, 1], pts_lps[:, 2]
    out = np.full(x.shape, AIR, dtype=np.uint8)
    r = (x / b.half_lr) ** 2 + (y / b.half_ap) ** 2
    inside = r <= 1.0
    out[inside] = SUBCUT_FAT
    inner = ((x / (b.half_lr - b.subcut_fat_mm)) ** 2 + (y / (b.half_ap - b.subcut_fat_mm)) ** 2) <= 1.0
    out[inner] = MUSCLE
    t = b.subcut_fat_mm + b.chest_wall_mm
    cavity = ((x / (b.half_lr - t)) ** 2 + (y / (b.half_ap - t)) ** 2) <= 1.0
    out[cavity] = MEDIASTINUM
    # Lungs: one ellipsoid each side, posterior-lateral.
    for side in (-1.0, 1.0):
        cx, cy = side * 0.45 * b.half_lr, 0.1 * b.half_ap
        lung = cavity & ((((x - cx) / (0.36 * b.half_lr)) ** 2 + ((y - cy) / (0.75 * b.half_ap)) ** 2
                          + (z / 140.0) ** 2) <= 1.0)
        out[lung] = LUNG
    # Liver under a domed diaphragm, mostly on the right (x < 0 in LPS is the patient's right).
    dome = b.diaphragm_z - 0.0015 * (x + 40.0) ** 2 - 0.001 * y ** 2
    out[cavity & (z < dome)] = LIVER
    # Spine and descending aorta, posterior.
    spine_y = b.half_ap - t - 18.0
    out[np.hypot(x, y - spine_y) <= 17.0] = BONE
    out[np.hypot(x - 28.0, y - (spine_y - 12.0)) <= 12.0] = AORTA_DESC
    return out
