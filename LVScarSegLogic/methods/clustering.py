"""Intensity clustering inside the wall: k-means and EM mixture models (Gaussian, Rician)."""
from __future__ import annotations

from typing import Tuple

import numpy as np

from ..lazy import special
from ..masks import components_touching
from .base import ScarInput, ScarResult
from .declare import scar_method
from .registry import Param


def kmeans_1d(values: np.ndarray, k: int, iterations: int = 50) -> Tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means on scalars, deterministic (initial centres at spread quantiles).
    Returns (sorted centres, labels by rank: 0 darkest)."""
    centres = np.quantile(values, np.linspace(0.1, 0.95, k)).astype(np.float64)
    for _ in range(iterations):
        edges = (centres[1:] + centres[:-1]) / 2
        labels = np.searchsorted(edges, values)
        new = np.array([values[labels == c].mean() if np.any(labels == c) else centres[c] for c in range(k)])
        if np.allclose(new, centres):
            break
        centres = np.sort(new)
    edges = (centres[1:] + centres[:-1]) / 2
    return centres, np.searchsorted(edges, values)


@scar_method(
    name="kmeans",
    family="clustering",
    summary="k-means on the wall's intensities: 2 clusters (remote / scar) or 3 (remote / gray zone / scar).",
    doc="1D k-means of the wall: 2 clusters, or 3 (remote / gray zone / scar).",
    params=(Param("clusters", "int", 3, "2: remote and scar; 3: remote, gray zone and scar.", min=2, max=3),),
    reference="Lloyd 1982; lecture's clustering baseline",
)
def kmeans(inp: ScarInput, clusters: int) -> ScarResult:
    """k-means on wall intensities: 2 clusters (remote / scar) or 3 (remote / gray zone / scar).
    The brightest cluster is scar; with 3, the middle one is the gray zone."""
    wall = inp.myocardium
    centres, labels = kmeans_1d(inp.image[wall].astype(np.float64), clusters)
    scar = np.zeros_like(wall)
    scar[wall] = labels == clusters - 1
    gray = None
    if clusters == 3:
        gray = np.zeros_like(wall)
        gray[wall] = labels == 1
    return ScarResult(scar=scar, grayzone=gray, info={"centres": centres.tolist()})


# ---------------------------------------------------------------- EM mixtures

def _gauss_logpdf(x, mu, sd):
    return -0.5 * ((x - mu) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)


def _rice_logpdf(x, nu, sigma):
    x = np.maximum(x, 1e-12)
    s2 = sigma * sigma
    z = x * nu / s2
    # log I0(z) = log(i0e(z)) + z, stable for large z
    return np.log(x / s2) - (x * x + nu * nu) / (2 * s2) + np.log(special.i0e(z)) + z


def _rice_fit(x, w):
    """Weighted moment estimates of (nu, sigma): nu^4 = 2 m2^2 - m4, sigma^2 = (m2 - nu^2) / 2."""
    sw = max(w.sum(), 1e-12)
    m2 = float((w * x ** 2).sum() / sw)
    m4 = float((w * x ** 4).sum() / sw)
    nu2 = np.sqrt(max(2 * m2 * m2 - m4, 0.0))
    sigma = np.sqrt(max((m2 - nu2) / 2.0, 1e-12))
    return float(np.sqrt(nu2)), float(sigma)


def responsibilities(x: np.ndarray, weights, params, healthy_rician: bool):
    """Posterior class probabilities (k, n) and the mean log-likelihood of ``x``."""
    logp = np.stack([np.log(weights[c]) + (_rice_logpdf(x, *params[c]) if (c == 0 and healthy_rician)
                                           else _gauss_logpdf(x, *params[c])) for c in range(len(params))])
    top = logp.max(axis=0)
    total = top + np.log(np.exp(logp - top).sum(axis=0))
    return np.exp(logp - total), float(total.mean())


EM_FIT_SAMPLES = 40000


def em_mixture(x: np.ndarray, k: int, healthy_rician: bool, iterations: int = 100, tol: float = 1e-6):
    """EM on scalars: k components, the darkest Rician (remote myocardium near the noise floor)
    when ``healthy_rician``, the others Gaussian. Returns (weights, params, log-likelihood, resp)."""
    centres, labels = kmeans_1d(x, k)
    weights = np.array([(labels == c).mean() for c in range(k)]) + 1e-6
    params = [(float(x[labels == c].mean()), float(x[labels == c].std() + 1e-6)) if np.any(labels == c)
              else (float(centres[c]), float(x.std())) for c in range(k)]
    if healthy_rician:
        params[0] = _rice_fit(x, (labels == 0).astype(float))
    previous = -np.inf
    for _ in range(iterations):
        resp, ll = responsibilities(x, weights, params, healthy_rician)
        weights = resp.mean(axis=1) + 1e-9
        for c in range(k):
            w = resp[c]
            if c == 0 and healthy_rician:
                params[c] = _rice_fit(x, w)
            else:
                mu = float((w * x).sum() / max(w.sum(), 1e-12))
                sd = float(np.sqrt((w * (x - mu) ** 2).sum() / max(w.sum(), 1e-12)) + 1e-6)
                params[c] = (mu, sd)
        if ll - previous < tol:
            break
        previous = ll
    return weights, params, ll, resp


def _mean_of(params, c, rician):
    if c == 0 and rician:
        nu, sigma = params[c]
        # Rician mean: sigma sqrt(pi/2) L_{1/2}(-nu^2 / 2 sigma^2)
        t = -nu * nu / (2 * sigma * sigma)
        # exponentially scaled Bessel functions: e^{t/2} I_k(-t/2) = ik e(-t/2), no overflow
        lag = (1 - t) * special.i0e(-t / 2) - t * special.i1e(-t / 2)
        return float(sigma * np.sqrt(np.pi / 2) * lag)
    return float(params[c][0])


def fit_wall_mixture(values: np.ndarray, components: int, distribution: str):
    """EM mixture of the wall's signal: (values scaled to the wall's 99th percentile, that scale,
    whether the healthy class is Rician, the class weights, per-voxel responsibilities (components,
    n), class means in scaled units). ``distribution``: gaussian, rician or auto (the lower BIC)."""
    x = values.astype(np.float64)
    scale = float(np.percentile(x, 99)) or 1.0
    x = np.maximum(x / scale, 1e-6)  # EM in units of the wall's bright end: stable for any scanner scale
    options = {"gaussian": [False], "rician": [True], "auto": [False, True]}[distribution]
    # The mixture is fitted on a fixed random sample (a histogram of 40,000 voxels pins it down);
    # every voxel is then classified with the fitted model.
    sample = x if x.size <= EM_FIT_SAMPLES else np.random.default_rng(0).choice(x, EM_FIT_SAMPLES, replace=False)
    best = None
    for rician in options:
        weights, params, ll, _ = em_mixture(sample, components, rician)
        bic = -2 * ll * sample.size + (3 * components - 1) * np.log(sample.size)
        if best is None or bic < best[0]:
            best = (bic, rician, weights, params)
    _, rician, weights, params = best
    resp, _ = responsibilities(x, weights, params, rician)
    return x, scale, rician, weights, resp, [_mean_of(params, c, rician) for c in range(components)]


@scar_method(
    name="gmm",
    family="clustering",
    summary="EM mixture model of the wall's intensities (Gaussian or Rician healthy class); scar above the "
            "brightest class mean or by posterior.",
    doc="EM mixture (Karim 2016 \"MV\"): Gaussian or Rician healthy class (auto: lower BIC); seeds above "
        "the brightest class mean grown over voxels of that class, or posterior rule; 3 components give a "
        "gray zone.",
    params=(
        Param("components", "int", 2, "2: healthy and scar; 3: healthy, gray zone and scar.", min=2, max=3),
        Param("distribution", "choice", "auto", "Healthy class Gaussian, Rician, or auto (lower BIC).",
              choices=("auto", "gaussian", "rician")),
        Param("rule", "choice", "mean", "mean: seeds above the brightest class's mean grown over the voxels "
              "most probably in that class (Karim 2016 'MV'); posterior: every voxel most probably in the "
              "brightest class.", choices=("mean", "posterior")),
    ),
    reference="Karim 2016 MedIA 30:95 (Hennemuth's EM method)",
)
def gmm(inp: ScarInput, components: int, distribution: str, rule: str) -> ScarResult:
    """EM mixture on wall intensities (Karim 2016 "MV"): Gaussian, Rician-healthy + Gaussian,
    or auto (the better BIC). Rule "mean": seeds above the brightest class mean, grown over the
    voxels most probably in that class; rule "posterior": every voxel most probably in the
    brightest class. With 3 components the middle class is the gray zone."""
    wall = inp.myocardium
    x, scale, rician, weights, resp, means = fit_wall_mixture(inp.image[wall], components, distribution)
    order = np.argsort(means)
    top, middle = order[-1], order[len(order) // 2] if components == 3 else None
    probable = np.zeros_like(wall)
    probable[wall] = resp[top] > 0.5
    if rule == "mean":
        # Karim 2016 "MV": voxels above the higher class mean are the seeds, grown over the voxels
        # that belong to the scar class (their watershed step).
        seeds = np.zeros_like(wall)
        seeds[wall] = x > means[top]
        scar = components_touching(probable, seeds)
    else:
        scar = probable
    scar_flat = scar[wall]
    gray = None
    if middle is not None:
        gray = np.zeros_like(wall)
        gray[wall] = (resp[middle] > 0.5) & ~scar_flat
    info = {"distribution": "rician+gaussian" if rician else "gaussian", "class_means": [m * scale for m in means],
            "weights": [float(w) for w in weights]}
    return ScarResult(scar=scar, grayzone=gray, info=info)
