"""A second phantom style: LGE images drawn from someone else's label map.

The shapes are real (a label map with EMIDEC codes, e.g. EMIDEC's own expert labels: LV cavity,
wall, infarct, MVO); everything else is random per case and shares nothing with this project's
own generator (``cases.py``): the surroundings are blobs of random tissues around an RV-like
crescent and patches of epicardial fat, every tissue's brightness is drawn anew, then the image
goes through partial volume (rendered at 3x in-plane, averaged down), blur, a coil-bias field,
optional ghosting, Rician noise and an integer export. No network in this project was trained
on this style, so it is a check of what was learned, not a training aid.

Styles: ``"lge"`` keeps the tendencies of magnitude inversion-recovery LGE (healthy wall
nulled, infarct bright, blood between them or brighter than infarct); ``"random"`` draws every
tissue's brightness from the same range (blood may come out darker than the wall).

Arrays are (k, j, i), in-plane axes j, i; spacings in mm, k, j, i order.
"""
from __future__ import annotations

from typing import Dict, Tuple

import numpy as np
from scipy import ndimage as ndi

from .. import labels as L

SUPER = 3  # in-plane super-sampling factor for partial volume
STYLES = ("lge", "random")


def _smooth_noise(rng, shape, sigma) -> np.ndarray:
    f = ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return f / max(float(f.std()), 1e-9)


def _surroundings(rng, lv: np.ndarray, spacing_kji) -> np.ndarray:
    """Background tissue classes 10.. on the super-sampled grid (0 stays where the LV is): 4-6
    blobs of random tissues, an RV-like crescent of blood against one side of the LV (with its
    thin wall), and epicardial fat in patches along the LV's outer border."""
    shape = lv.shape
    pix = spacing_kji[1] / SUPER
    sigma = (0.3, 25.0 / pix, 25.0 / pix)  # organ-sized blobs, nearly independent per slice
    n_classes = int(rng.integers(4, 7))
    field = _smooth_noise(rng, shape, sigma)
    edges = np.quantile(field, np.sort(rng.uniform(0.05, 0.95, n_classes - 1)))
    out = (10 + np.digitize(field, edges)).astype(np.uint8)
    # RV: the LV grown by 6-25 mm, kept on one side (a sector of 100-200 degrees), slice by slice
    rv = np.zeros(shape, bool)
    grow = rng.uniform(6.0, 25.0) / pix
    angle, width = rng.uniform(0, 2 * np.pi), np.deg2rad(rng.uniform(100, 200)) / 2
    jj, ii = np.mgrid[:shape[1], :shape[2]]
    for k in range(shape[0]):
        if not lv[k].any():
            continue
        cj, ci = np.argwhere(lv[k]).mean(0)
        d = ndi.distance_transform_edt(~lv[k])
        diff = np.angle(np.exp(1j * (np.arctan2(jj - cj, ii - ci) - angle)))
        rv[k] = (d > 0) & (d <= grow) & (np.abs(diff) <= width)
    rv_wall = ndi.binary_dilation(rv, np.ones((1, 3, 3), bool), iterations=max(1, int(round(3.0 / pix)))) & ~rv
    out[rv_wall] = 9
    out[rv] = 8
    # epicardial fat: 1-4 mm against the wall's outside, in patches
    fat = ndi.binary_dilation(lv, np.ones((1, 3, 3), bool), iterations=max(1, int(round(rng.uniform(1, 4) / pix))))
    fat &= ~lv & (_smooth_noise(rng, shape, (0.3, 8 / pix, 8 / pix)) > rng.uniform(0.0, 1.0))
    out[fat] = 7
    out[lv] = 0
    return out


def _brightness(rng, style: str) -> Dict[int, float]:
    """Mean brightness per class (0-1): LV codes, 7 fat, 8 RV blood, 9 RV wall, 10.. others."""
    if style == "random":
        v = {c: float(rng.uniform(0.02, 1.0)) for c in (L.BLOODPOOL, L.MYOCARDIUM, 7, 8, 9)}
        v[L.SCAR] = float(rng.uniform(0.02, 1.0))
    else:
        myo = float(rng.uniform(0.02, 0.15))
        blood = float(rng.uniform(0.35, 0.8))
        v = {L.MYOCARDIUM: myo, L.BLOODPOOL: blood, L.SCAR: min(1.0, blood * float(rng.uniform(0.8, 1.5))),
             7: float(rng.uniform(0.5, 1.0)), 8: blood * float(rng.uniform(0.9, 1.1)),
             9: myo * float(rng.uniform(0.9, 1.6))}
    v[L.MVO] = v[L.MYOCARDIUM] * float(rng.uniform(1.0, 2.5))
    v[L.GRAYZONE] = 0.5 * (v[L.MYOCARDIUM] + v[L.SCAR])
    for c in range(10, 17):
        v[c] = float(rng.uniform(0.02, 0.7))
    return v


def lge_from_labels(codes: np.ndarray, spacing_kji: Tuple[float, float, float], seed: int,
                    style: str = "lge", cnr_range: Tuple[float, float] = (3.0, 12.0)
                    ) -> Tuple[np.ndarray, Dict[str, float]]:
    """(image int16 (k, j, i), settings) drawn from a label map ``codes`` (EMIDEC codes, (k, j, i))
    on a grid of ``spacing_kji`` mm. The same seed gives the same image. ``cnr_range``: the
    scar-to-healthy-wall contrast over the noise SD is drawn uniformly from it (a cleaner scanner:
    a higher range; the default's draws stay those of the sets already written)."""
    if not 0 < cnr_range[0] <= cnr_range[1]:
        raise ValueError(f"cnr_range must satisfy 0 < low <= high, not {cnr_range!r}")
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, not {style!r}")
    rng = np.random.default_rng(seed)
    # labels on a 3x in-plane grid with smooth (not staircase) borders
    big = np.repeat(np.repeat(codes, SUPER, 1), SUPER, 2)
    present = np.unique(big)
    soft = np.stack([ndi.gaussian_filter((big == c).astype(np.float32), (0, SUPER / 2, SUPER / 2)) for c in present])
    big = present[soft.argmax(0)]
    lv = np.isin(big, (L.BLOODPOOL,) + L.LV_MYOCARDIUM_CODES)
    classes = np.where(lv, big, _surroundings(rng, lv, spacing_kji))
    bright = _brightness(rng, style)
    lut = np.zeros(256, np.float32)
    for c, value in bright.items():
        lut[c] = value
    pix = spacing_kji[1] / SUPER
    texture = 1.0 + float(rng.uniform(0.02, 0.1)) * _smooth_noise(rng, big.shape, (0.3, 3 / pix, 3 / pix))
    hi = lut[classes] * texture
    # partial volume: average the 3x3 sub-pixels of each pixel; then a little in-plane blur
    k, j, i = codes.shape
    img = hi.reshape(k, j, SUPER, i, SUPER).mean((2, 4))
    blur = float(rng.uniform(0.2, 0.8))
    img = ndi.gaussian_filter(img, (0, blur, blur))
    # coil bias: a smooth multiplicative field, up to +-35 %
    jj, ii = np.mgrid[:j, :i] / max(j, i) - 0.5
    a = rng.uniform(-0.7, 0.7, 3)
    img = img * np.exp(a[0] * jj + a[1] * ii + a[2] * jj * ii)[None]
    ghost = 0.0
    if rng.random() < 0.3:  # respiratory ghosting along the phase-encoding axis
        ghost = float(rng.uniform(0.05, 0.15))
        axis = int(rng.integers(1, 3))
        img = img + ghost * np.roll(img, img.shape[axis] // int(rng.integers(2, 4)), axis=axis)
    contrast = abs(bright[L.SCAR] - bright[L.MYOCARDIUM])
    cnr = float(rng.uniform(*cnr_range))
    sigma = max(contrast, 0.05) / cnr
    img = np.hypot(img + rng.normal(0, sigma, img.shape), rng.normal(0, sigma, img.shape))  # Rician
    scale = float(rng.uniform(500, 4000))
    out = np.clip(np.round(img / max(float(img.max()), 1e-9) * scale), 0, 32767).astype(np.int16)
    return out, {"style": style, "cnr": round(cnr, 2), "blur_px": round(blur, 2), "ghost": round(ghost, 3),
                 "scale": round(scale, 1)}
