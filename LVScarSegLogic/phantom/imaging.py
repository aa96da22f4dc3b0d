"""Sampling the anatomy on an image grid: partial volume, texture, bias field, Rician noise."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

from ..geometry import Grid
from .anatomy import TISSUE_TO_CODE, Heart
from .body import BodyParams, body_tissues


@dataclass
class Scene:
    """Where the heart and the body are in patient space (LPS mm)."""

    heart_axes: np.ndarray  # 3x3, columns: heart x, y, z axes in LPS
    heart_origin: np.ndarray  # LPS position of the base-plane centre
    body_centre: np.ndarray  # LPS


@dataclass
class Signal:
    intensities: np.ndarray  # (N_TISSUES,) noise-free signal, scar core = 1
    sigma: float  # Rician noise SD in the same units
    bias_amplitude: float  # +- fraction over the heart region
    texture: float  # relative SD of smooth intra-tissue variation
    scale: float  # stored value of signal 1.0
    bias_coeffs: np.ndarray = None  # (6,) log-bias polynomial in heart coordinates / 100 mm
    dtype: str = "int16"


def _bias_basis(ph: np.ndarray) -> np.ndarray:
    q = ph / 100.0
    return np.stack([q[:, 0], q[:, 1], q[:, 2], q[:, 0] * q[:, 1], q[:, 0] ** 2 - q[:, 2] ** 2, q[:, 1] * q[:, 2]], 1)


def bias_coefficients(heart: Heart, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """Random smooth log-bias whose values over the heart span exp(+-log((1+a)/(1-a))/2)."""
    p = heart.p
    pts = rng.uniform([-p.a_endo - 20, -p.a_endo - 20, -p.apex_depth - 15], [p.a_endo + 20, p.a_endo + 20, 15],
                      size=(4000, 3))
    coeffs = rng.normal(size=6)
    values = _bias_basis(pts) @ coeffs
    coeffs *= np.log((1 + amplitude) / (1 - amplitude)) / max(float(np.ptp(values)), 1e-9)
    return np.append(coeffs, -float(np.median(_bias_basis(pts) @ coeffs)))


def _voxel_points(grid: Grid, ijk: np.ndarray) -> np.ndarray:
    m = grid.ijk_to_lps
    return ijk @ m[:3, :3].T + m[:3, 3]


class _Sampler:
    def __init__(self, heart: Heart, body: BodyParams, scene: Scene):
        self.heart, self.body, self.scene = heart, body, scene
        p = heart.p
        self.lo = np.array([-p.a_endo - 45.0, -p.a_endo - 45.0, -p.apex_depth - 25.0])
        self.hi = np.array([p.a_endo + 45.0, p.a_endo + 45.0, 80.0])

    def to_heart(self, pts_lps: np.ndarray) -> np.ndarray:
        return (pts_lps - self.scene.heart_origin) @ self.scene.heart_axes

    def tissues(self, pts_lps: np.ndarray) -> np.ndarray:
        out = body_tissues(pts_lps - self.scene.body_centre, self.body)
        ph = self.to_heart(pts_lps)
        near = np.all((ph >= self.lo) & (ph <= self.hi), axis=1)
        if near.any():
            t = self.heart.tissues(ph[near])
            sub = out[near]
            sub[t != 0] = t[t != 0]
            out[near] = sub
        return out


def _ijk_of(flat_index: np.ndarray, shape) -> np.ndarray:
    k, j, i = np.unravel_index(flat_index, shape)
    return np.stack([i, j, k], axis=1).astype(np.float64)


def render(grid: Grid, heart: Heart, body: BodyParams, scene: Scene, signal: Signal,
           rng: np.random.Generator, progress=lambda f, m: None) -> Tuple[np.ndarray, np.ndarray, Dict]:
    """Return (image array, EMIDEC codes, info) on ``grid`` (arrays in (k, j, i) order)."""
    sampler = _Sampler(heart, body, scene)
    shape = grid.shape
    n = int(np.prod(shape))
    sp = np.asarray(grid.spacing)
    n_k = int(np.clip(round(sp[2] / min(sp[0], sp[1])), 2, 5))
    thick = n_k > 2
    tissue = np.empty(n, dtype=np.uint8)
    # Thick slices: tissue that changes within the slab but not between voxel centres must
    # still be averaged, so the slab's two faces are probed as well.
    through = np.zeros(n, dtype=bool)
    chunk = 1 << 20
    for start in range(0, n, chunk):
        idx = np.arange(start, min(start + chunk, n))
        ijk = _ijk_of(idx, shape)
        tissue[idx] = sampler.tissues(_voxel_points(grid, ijk))
        if thick:
            for dk in (-0.4, 0.4):
                through[idx] |= sampler.tissues(_voxel_points(grid, ijk + (0.0, 0.0, dk))) != tissue[idx]
    tissue = tissue.reshape(shape)
    progress(0.4, "phantom: partial volume")

    # Partial volume: voxels with a different 6-neighbour are averaged over sub-voxel samples.
    boundary = through.reshape(shape)
    for axis in range(3):
        d = np.diff(tissue, axis=axis) != 0
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis] = slice(0, -1)
        hi[axis] = slice(1, None)
        boundary[tuple(lo)] |= d
        boundary[tuple(hi)] |= d
    offsets = np.array([(di, dj, dk) for di in (-0.25, 0.25) for dj in (-0.25, 0.25)
                        for dk in (np.arange(n_k) + 0.5) / n_k - 0.5])
    values = signal.intensities.astype(np.float32)
    image = values[tissue].ravel()
    codes_flat = TISSUE_TO_CODE[tissue].ravel()
    bidx = np.flatnonzero(boundary)
    step = max(1, chunk // len(offsets))
    for start in range(0, bidx.size, step):
        idx = bidx[start:start + step]
        ijk = _ijk_of(idx, shape)
        acc = np.zeros(idx.size, dtype=np.float32)
        votes = np.zeros((idx.size, 6), dtype=np.int16)
        for off in offsets:
            t = sampler.tissues(_voxel_points(grid, ijk + off))
            acc += values[t]
            votes[np.arange(idx.size), TISSUE_TO_CODE[t]] += 1
        image[idx] = acc / len(offsets)
        # Truth of a partial-volume voxel: the label covering most of it (what an ideal reader
        # would draw), the centre's label on ties.
        centre = TISSUE_TO_CODE[tissue.ravel()[idx]]
        best = np.argmax(votes, axis=1)
        tie = votes[np.arange(idx.size), best] == votes[np.arange(idx.size), centre]
        codes_flat[idx] = np.where(tie, centre, best)
    image = image.reshape(shape)
    progress(0.7, "phantom: texture, bias field and noise")

    # Smooth intra-tissue texture and the coil bias field, both multiplicative.
    all_idx = np.arange(n)
    ph_all = np.empty((n, 3), dtype=np.float32)
    for start in range(0, n, chunk):
        idx = all_idx[start:start + chunk]
        ph_all[idx] = sampler.to_heart(_voxel_points(grid, _ijk_of(idx, shape)))
    near = np.all((ph_all >= sampler.lo) & (ph_all <= sampler.hi), axis=1)
    flat = image.ravel()
    flat[near] *= 1.0 + signal.texture * heart.texture(ph_all[near])
    coeffs = signal.bias_coeffs
    if coeffs is None:
        coeffs = bias_coefficients(heart, signal.bias_amplitude, rng)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        flat[start:stop] *= np.exp(_bias_basis(ph_all[start:stop]) @ coeffs[:6] + coeffs[6]).astype(np.float32)
    del ph_all
    noisy = np.sqrt((flat + rng.normal(0, signal.sigma, n).astype(np.float32)) ** 2
                    + rng.normal(0, signal.sigma, n).astype(np.float32) ** 2)
    info = np.iinfo(signal.dtype)
    stored = np.clip(np.rint(noisy * signal.scale), info.min, info.max).astype(signal.dtype).reshape(shape)
    codes = codes_flat.reshape(shape)
    return stored, codes, {"boundary_voxels": int(bidx.size), "subsamples": len(offsets)}


def aha_scar_ml(grid: Grid, heart: Heart, scene: Scene, codes: np.ndarray) -> Dict[int, Dict[str, float]]:
    """Myocardium and infarct volume per AHA segment of the truth, from voxel centres."""
    idx = np.flatnonzero(np.isin(codes, (2, 3, 4, 5)))
    if idx.size == 0:
        return {}
    ph = (_voxel_points(grid, _ijk_of(idx, grid.shape)) - scene.heart_origin) @ scene.heart_axes
    alpha, u = heart.polar(ph)
    seg = heart.aha_segment(alpha, u)
    c = codes.ravel()[idx]
    v = grid.voxel_volume_ml
    out = {}
    for s in range(1, 18):
        sel = seg == s
        if sel.any():
            out[s] = {"myocardium_ml": float(sel.sum() * v), "scar_ml": float((sel & np.isin(c, (3, 4))).sum() * v)}
    return out
