"""Random phantom cases: acquisition protocols, anatomy and signal parameters, files.

Every case is deterministic given (seed, index): ``SeedSequence([seed, index])``.
Ranges come from ../shared/reference/methods-and-numbers.md section 4 and are listed in
``PARAMETER_RANGES`` (printed in the README).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from ..geometry import Grid
from .anatomy import (AO_BLOOD, AORTA_DESC, BONE, EPI_FAT, LA_BLOOD, LIVER, LUNG, LV_BLOOD, LV_MYO, MEDIASTINUM,
                      MUSCLE, MVO, N_TISSUES, PAPILLARY, RV_BLOOD, RV_MYO, SCAR, SUBCUT_FAT, GRAYZONE, TERRITORIES,
                      VESSEL_WALL, Heart, HeartParams, ScarParams)
from .body import BodyParams
from .imaging import Scene, Signal, aha_scar_ml, bias_coefficients, render

# name: (spacing i, j, k in mm, size i, j, k, orientation)
PROTOCOLS = {
    "3d-highres": ((0.625, 0.625, 1.3), (256, 256, 120), "axial-oblique"),
    "3d-iso": ((1.3, 1.3, 1.3), (128, 128, 112), "any-plane-oblique"),
    "2d-stack": ((1.4, 1.4, 8.0), (256, 208, 12), "short-axis"),
    "large-fov": ((1.5, 1.5, 1.5), (256, 256, 200), "arbitrary"),
    "3d-lowres": ((2.0, 2.0, 2.0), (72, 72, 64), "any-plane-oblique"),  # small and fast: tests, demo
}
MIXED_ORDER = ("3d-highres", "3d-iso", "2d-stack", "large-fov")

PARAMETER_RANGES = {
    "LV endocardial radius (mm)": (22, 28), "base-to-apex depth (mm)": (70, 90),
    "wall thickness, healthy mid (mm)": (6, 10), "apical wall / mid wall": (0.45, 0.65),
    "wall lost under transmural scar (fraction)": (0.35, 0.5), "RV wall (mm)": (2.5, 4),
    "epicardial fat, mean (mm; +5 in grooves, +6 in AV groove)": (0.5, 2.5), "papillary radius (mm)": (3.5, 6),
    "remote myocardium signal (scar = 1)": (0.05, 0.15), "blood signal (scar = 1)": (0.55, 0.8),
    "gray zone signal (fraction from myocardium to scar)": (0.35, 0.6), "MVO signal": (0.05, 0.2),
    "fat signal": (0.6, 1.0), "lung signal": (0.02, 0.08), "chest wall signal": (0.2, 0.4),
    "CNR scar-remote, normal cases": (10, 30), "CNR scar-remote, hard cases (every 3rd)": (3, 8),
    "bias field (+- fraction over the heart)": (0.1, 0.4), "texture (relative SD)": (0.03, 0.08),
    "scar half-width (deg)": (30, 75), "scar half-length (fraction of LV length)": (0.2, 0.5),
    "transmurality at scar centre": (0.25, 1.0), "gray-zone rim (mm)": (1, 3), "patchiness (mm)": (0.3, 2.0),
    "heart axis deviation from typical (deg; 1 case in 6 up to 60)": (0, 20),
    "stored value of scar signal": (300, 3000), "slice misregistration, 2D stacks (mm)": (0, 3),
}


def _u(rng, lo_hi):
    return float(rng.uniform(*lo_hi))


def _random_rotation(rng, max_deg: float) -> np.ndarray:
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = np.deg2rad(rng.uniform(0, max_deg))
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def _heart_axes(rng, max_dev: float) -> np.ndarray:
    apex = np.array([0.6, -0.5, -0.6])  # LPS: to the left, anterior (-P) and inferior
    apex = _random_rotation(rng, max_dev) @ (apex / np.linalg.norm(apex))
    z = -apex
    anterior = np.array([0.0, -1.0, 0.0])
    y = anterior - (anterior @ z) * z
    y /= np.linalg.norm(y)
    x = np.cross(y, z)
    axes = np.stack([x, y, z], axis=1)
    twist = np.deg2rad(rng.uniform(-15, 15))
    c, s = np.cos(twist), np.sin(twist)
    return axes @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _scars(rng, n: int) -> List[ScarParams]:
    names = list(rng.permutation(sorted(TERRITORIES)))[:n]
    out = []
    for name in names:
        (a_lo, a_hi), (u_lo, u_hi) = TERRITORIES[name]
        kind = rng.uniform()
        transmurality = _u(rng, (0.25, 0.5)) if kind < 0.35 else _u(rng, (0.5, 0.8)) if kind < 0.65 else _u(rng, (0.85, 1.0))
        out.append(ScarParams(
            territory=str(name), alpha0=_u(rng, (a_lo, a_hi)) % 360.0, u0=_u(rng, (u_lo, u_hi)),
            half_width_deg=_u(rng, (30, 75)), half_length_u=_u(rng, (0.2, 0.5)), transmurality=transmurality,
            grayzone_mm=_u(rng, (1, 3)), patchiness_mm=_u(rng, (0.3, 2.0)),
            mvo=bool(transmurality > 0.6 and rng.uniform() < 0.35)))
    return out


def _intensities(rng, myo: float) -> np.ndarray:
    v = np.zeros(N_TISSUES)
    blood = _u(rng, (0.55, 0.8))
    fat = _u(rng, (0.6, 1.0))
    v[LV_MYO] = myo
    v[SCAR] = 1.0
    v[GRAYZONE] = myo + (1.0 - myo) * _u(rng, (0.35, 0.6))
    v[MVO] = _u(rng, (0.05, 0.2))
    v[LV_BLOOD] = blood
    v[[RV_BLOOD, LA_BLOOD, AO_BLOOD, AORTA_DESC]] = blood * rng.uniform(0.9, 1.05, 4)
    v[PAPILLARY] = myo * _u(rng, (1.0, 1.4))
    v[RV_MYO] = myo * _u(rng, (0.9, 1.3))
    v[VESSEL_WALL] = _u(rng, (0.1, 0.25))
    v[EPI_FAT] = fat
    v[SUBCUT_FAT] = fat * _u(rng, (0.9, 1.1))
    v[LUNG] = _u(rng, (0.02, 0.08))
    v[MUSCLE] = _u(rng, (0.2, 0.4))
    v[LIVER] = _u(rng, (0.25, 0.4))
    v[MEDIASTINUM] = _u(rng, (0.15, 0.3))
    v[BONE] = _u(rng, (0.1, 0.2))
    return v


def _grid_direction(rng, orientation: str, heart_axes: np.ndarray) -> np.ndarray:
    if orientation == "short-axis":
        # Rows run lateral->septal... as scanners plan them: in-plane axes in the short-axis
        # plane, slices from base to apex, with a few degrees of planning error.
        base = np.stack([-heart_axes[:, 0], -heart_axes[:, 1], -heart_axes[:, 2]], axis=1)
        base[:, 0] *= -1  # keep a right-handed frame
        return _random_rotation(rng, 8.0) @ base
    if orientation == "axial-oblique":
        return _random_rotation(rng, 20.0)
    if orientation == "any-plane-oblique":
        planes = [np.eye(3), np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], float),
                  np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]], float)]
        return _random_rotation(rng, 25.0) @ planes[int(rng.integers(3))]
    return _random_rotation(rng, 180.0)


def _render_slices(grid: Grid, heart, body, scene, signal, rng, misregistration: float, progress):
    """Render a 2D stack slice by slice, shifting the anatomy in-plane by up to ``misregistration`` mm."""
    images, codes, boundary = [], [], 0
    m = grid.ijk_to_lps
    for k in range(grid.shape[0]):
        shift = np.clip(rng.normal(0.0, misregistration / 2.0, 2), -misregistration, misregistration)
        offset = m[:3, 0] / grid.spacing[0] * shift[0] + m[:3, 1] / grid.spacing[1] * shift[1]
        moved = Scene(scene.heart_axes, scene.heart_origin + offset, scene.body_centre + offset)
        origin = grid.ijk_to_lps_points([[0, 0, k]])[0]
        one = Grid.make((1,) + grid.shape[1:], grid.spacing, origin, grid.direction_matrix)
        img, lab, info = render(one, heart, body, moved, signal, rng)
        images.append(img[0])
        codes.append(lab[0])
        boundary += info["boundary_voxels"]
        progress((k + 1) / grid.shape[0] * 0.9, f"phantom: slice {k + 1}/{grid.shape[0]}")
    return np.stack(images), np.stack(codes), {"boundary_voxels": boundary, "subsamples": info["subsamples"]}


def make_case(seed: int, index: int, protocol: str, healthy: Optional[bool] = None, hard: Optional[bool] = None,
              progress=lambda f, m: None):
    """One phantom case: (image array (k, j, i), EMIDEC codes, Grid, metadata dict)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    healthy = (index % 5 == 4) if healthy is None else healthy
    hard = (index % 3 == 2) if hard is None else hard
    depth = _u(rng, (70, 90))
    base_offset = _u(rng, (0.2, 0.4))
    n_scars = 0 if healthy else int(rng.choice([1, 1, 1, 1, 1, 2, 2, 2, 3]))
    hp = HeartParams(
        a_endo=_u(rng, (22, 28)), c_endo=depth / (1 + base_offset), base_offset=base_offset,
        wall_mm=_u(rng, (6, 10)), apex_ratio=_u(rng, (0.45, 0.65)), scar_thinning=_u(rng, (0.35, 0.5)),
        rv_wall_mm=_u(rng, (2.5, 4)), fat_mm=_u(rng, (0.5, 2.5)),
        papillary_radius_mm=(_u(rng, (3.5, 6)), _u(rng, (3.5, 6))),
        scars=_scars(rng, n_scars), seed=int(rng.integers(2 ** 31)))
    heart = Heart(hp)
    body = BodyParams(half_lr=_u(rng, (140, 180)), half_ap=_u(rng, (95, 125)), subcut_fat_mm=_u(rng, (5, 20)),
                      chest_wall_mm=_u(rng, (12, 25)))
    deviation = 60.0 if index % 6 == 5 else 20.0
    axes = _heart_axes(rng, deviation)
    body_centre = np.array([_u(rng, (-30, 30)), _u(rng, (-200, -120)), _u(rng, (-900, -700))])
    lv_centre = body_centre + np.array([_u(rng, (20, 35)), _u(rng, (-35, -15)), 0.0])
    heart_origin = lv_centre + axes[:, 2] * depth * 0.5
    body.diaphragm_z = float((lv_centre - body_centre)[2] - depth * 0.5 - _u(rng, (5, 20)))
    scene = Scene(heart_axes=axes, heart_origin=heart_origin, body_centre=body_centre)

    spacing, size, orientation = PROTOCOLS[protocol]
    if protocol == "2d-stack":
        spacing = (spacing[0], spacing[1], float(rng.choice([8.0, 9.0, 10.0])))
    direction = _grid_direction(rng, orientation, axes)
    centre = body_centre if protocol == "large-fov" else lv_centre + rng.uniform(-10, 10, 3)
    extent = direction @ (np.asarray(spacing) * (np.asarray(size) - 1))
    origin = centre - extent / 2.0
    grid = Grid.make(size[::-1], spacing, origin, direction)

    myo = _u(rng, (0.05, 0.15))
    cnr = _u(rng, (3, 8)) if hard else _u(rng, (10, 30))
    bias = _u(rng, (0.1, 0.4))
    signal = Signal(intensities=_intensities(rng, myo), sigma=(1.0 - myo) / cnr, bias_amplitude=bias,
                    texture=_u(rng, (0.03, 0.08)), scale=_u(rng, (300, 3000)),
                    bias_coeffs=bias_coefficients(heart, bias, rng))
    misregistration = 0.0
    if protocol == "2d-stack":
        # Each slice is its own breath-hold: the heart sits a little elsewhere in every slice.
        misregistration = _u(rng, (0.0, 3.0))
        image, codes, info = _render_slices(grid, heart, body, scene, signal, rng, misregistration, progress)
    else:
        image, codes, info = render(grid, heart, body, scene, signal, rng, progress)
    counts = np.bincount(codes.ravel(), minlength=6)
    v = grid.voxel_volume_ml
    lv = float(counts[2:6].sum() * v)
    scar_ml = float((counts[3] + counts[4]) * v)
    meta = {
        "protocol": protocol, "seed": seed, "index": index, "healthy": healthy, "hard": hard,
        "cnr": cnr, "sigma": signal.sigma * signal.scale, "scale": signal.scale,
        "slice_misregistration_mm": misregistration,
        "bias_amplitude": signal.bias_amplitude,
        "spacing_mm": list(grid.spacing), "size": list(grid.size_ijk),
        "heart": {k: (round(v_, 3) if isinstance(v_, float) else v_) for k, v_ in vars(hp).items()
                  if k not in ("scars", "seed", "papillary_radius_mm")},
        "heart_axes_lps": axes.T.round(4).tolist(),
        "heart_base_centre_lps": heart_origin.round(2).tolist(),
        "scars": [vars(s) for s in hp.scars],
        "truth": {"lv_myocardium_ml": lv, "scar_ml": scar_ml, "mvo_ml": float(counts[4] * v),
                  "grayzone_ml": float(counts[5] * v), "bloodpool_ml": float(counts[1] * v),
                  "scar_percent": 100.0 * scar_ml / lv if lv else 0.0,
                  "aha_segments": aha_scar_ml(grid, heart, scene, codes)},
        "render": info,
    }
    return image, codes, grid, meta


def write_cases(out_dir, n: int, seed: int, protocol: str = "mixed", progress=lambda f, m: None) -> Dict:
    """Write ``images/case_NNN.nrrd``, ``labels/case_NNN.nrrd`` and ``phantom.json`` under ``out_dir``."""
    from ..files import write_text_atomic
    from ..volume import write_volume

    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    cases = []
    for i in range(n):
        proto = MIXED_ORDER[i % len(MIXED_ORDER)] if protocol == "mixed" else protocol
        progress(i / n, f"phantom case {i + 1}/{n} ({proto})")
        image, codes, grid, meta = make_case(seed, i, proto)
        name = f"case_{i:03d}"
        write_volume(out / "images" / f"{name}.nrrd", image, grid)
        write_volume(out / "labels" / f"{name}.nrrd", codes, grid)
        meta.update({"case": name, "image": str(Path("images") / f"{name}.nrrd"),
                     "label": str(Path("labels") / f"{name}.nrrd")})
        cases.append(meta)
    manifest = {"generator": "lvscarseg phantom", "seed": seed, "protocol": protocol,
                "label_codes": {"0": "background", "1": "LV blood pool", "2": "LV myocardium", "3": "scar",
                                "4": "MVO", "5": "gray zone"},
                "cases": cases}
    write_text_atomic(out / "phantom.json", json.dumps(manifest, indent=1, default=float) + "\n")
    return manifest
