"""Voxel classifiers (SVM, KNN, random forest, MLP): numpy inference from safetensors files.

Models are plain arrays in safetensors files (no pickles), trained by ``lvscarseg
train-classifier`` (scikit-learn) and checked against their recorded SHA-256 before loading.
Classes: 0 healthy, 1 gray zone, 2 scar (MVO is found afterwards as a dark enclosed core).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Tuple

import numpy as np

from ..errors import InputError
from ..files import sha256_of
from .base import ScarInput, ScarResult
from .declare import scar_method
from .features import FEATURES, voxel_features
from .registry import Param

KINDS = ("svm", "knn", "random-forest", "mlp")


def load_model(path) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Tensors and metadata of a model file, after checking its SHA-256 against the manifest
    beside it (``NAME.json``)."""
    from safetensors import safe_open
    from safetensors.numpy import load_file

    from ..models import verified_manifest

    p = Path(path)
    verified_manifest(p)
    try:
        with safe_open(str(p), framework="numpy") as fh:
            meta = dict(fh.metadata() or {})
        return load_file(str(p)), meta
    except Exception as exc:
        raise InputError(f"{p}: not a valid safetensors model ({exc})") from None


def _rbf_svm(t, x):
    sv, coef, gamma = t["support_vectors"], t["dual_coef"], float(t["gamma"][0])
    out = np.zeros((x.shape[0], coef.shape[0]), dtype=np.float64)
    sv_sq = (sv.astype(np.float64) ** 2).sum(1)
    for start in range(0, x.shape[0], 20000):
        xb = x[start:start + 20000].astype(np.float64)
        d2 = (xb ** 2).sum(1)[:, None] + sv_sq[None, :] - 2.0 * xb @ sv.T
        out[start:start + 20000] = np.exp(-gamma * np.maximum(d2, 0.0)) @ coef.T
    scores = out + t["intercept"][None, :]
    # one-vs-rest decision values -> class with the largest score
    return np.argmax(scores, axis=1)


def _knn(t, x):
    from scipy.spatial import cKDTree

    k = int(t["k"][0])
    _, idx = cKDTree(t["points"]).query(x, k=k, workers=-1)
    votes = t["labels"][idx]
    counts = np.stack([(votes == c).sum(1) for c in range(int(t["n_classes"][0]))], axis=1)
    return np.argmax(counts, axis=1)


def _forest(t, x):
    """All trees at once, one tree level per step, in chunks of voxels (bounded memory)."""
    offsets = t["tree_offsets"].astype(np.int64)
    left, right, feature, threshold, value = t["left"], t["right"], t["feature"], t["threshold"], t["value"]
    labels = np.empty(x.shape[0], dtype=np.int64)
    for start in range(0, x.shape[0], 50000):
        xb = x[start:start + 50000]
        rows = np.arange(xb.shape[0])[:, None]
        node = np.repeat(offsets[None, :], xb.shape[0], axis=0)
        while True:
            child = left[node]
            inner = child >= 0
            if not inner.any():
                break
            go_left = xb[rows, feature[node]] <= threshold[node]
            node = np.where(inner, np.where(go_left, child, right[node]) + offsets[None, :], node)
        labels[start:start + 50000] = np.argmax(value[node].sum(axis=1), axis=1)
    return labels


def _mlp(t, x):
    h = x.astype(np.float64)
    n_layers = int(t["n_layers"][0])
    for layer in range(n_layers):
        h = h @ t[f"W{layer}"] + t[f"b{layer}"]
        if layer < n_layers - 1:
            h = np.maximum(h, 0.0)
    return np.argmax(h, axis=1)


PREDICT = {"svm": _rbf_svm, "knn": _knn, "random-forest": _forest, "mlp": _mlp}


def predict(tensors, meta, features: np.ndarray) -> np.ndarray:
    kind = meta.get("kind")
    if kind not in PREDICT:
        raise InputError(f"model kind '{kind}' is not one of {', '.join(KINDS)}")
    if meta.get("features") != ",".join(FEATURES):
        raise InputError("the model was trained on other features than this version computes; retrain it")
    x = (features - tensors["feature_mean"]) / tensors["feature_scale"]
    return PREDICT[kind](tensors, x.astype(np.float32))


def default_model_path(kind: str) -> Path:
    from ..models import models_dir

    return models_dir() / f"scar-{kind}.safetensors"


def classify(inp: ScarInput, kind: str, model: str = "") -> ScarResult:
    path = Path(model) if model else default_model_path(kind)
    tensors, meta = load_model(path)
    if meta.get("kind") != kind:
        raise InputError(f"{path}: a '{meta.get('kind')}' model, not '{kind}'")
    inp.progress(0.3, f"{kind}: voxel features")
    feats = voxel_features(inp)
    inp.progress(0.5, f"{kind}: classifying {feats.shape[0]} voxels")
    labels = predict(tensors, meta, feats)
    wall = inp.myocardium
    scar = np.zeros_like(wall)
    gray = np.zeros_like(wall)
    scar[wall] = labels == 2
    gray[wall] = labels == 1
    return ScarResult(scar=scar, grayzone=gray, info={"model": str(path), "model_sha256": sha256_of(path)})


# What every classifier declares; the README says more about the features under the method table.
_MODEL = Param("model", "path", "", "A model file from `lvscarseg train-classifier` (.safetensors with its .json "
               "manifest beside it); empty: the shipped model trained on phantoms.")
_DOC = ("Voxel classifier (healthy / gray zone / scar) on 9 per-case-normalised features. The shipped model "
        "was trained on 16 phantoms (true and observer walls, seed 9000); `--param model=` takes one from "
        "`lvscarseg train-classifier`.")


def _classifier(name: str, what: str, reference: str) -> Callable:
    return scar_method(name=name, family="classifier",
                       summary=f"{what} on per-voxel features (signal against remote and blood, local statistics, "
                               "transmural depth); healthy / gray zone / scar.",
                       doc=_DOC, params=(_MODEL,), optional_inputs=("remote",), reference=reference)


@_classifier("svm", "Support-vector machine (RBF kernel, one-vs-rest)", "Cortes & Vapnik 1995")
def svm(inp: ScarInput, model: str) -> ScarResult:
    return classify(inp, "svm", model)


@_classifier("knn", "k-nearest neighbours (k = 15)", "lecture's KNN baseline (Zabihollahy 2019 comparison)")
def knn(inp: ScarInput, model: str) -> ScarResult:
    return classify(inp, "knn", model)


@_classifier("random-forest", "Random forest (40 trees)", "Breiman 2001")
def random_forest(inp: ScarInput, model: str) -> ScarResult:
    return classify(inp, "random-forest", model)


@_classifier("mlp", "Multilayer perceptron (32-16 hidden units)", "lecture's ANN")
def mlp(inp: ScarInput, model: str) -> ScarResult:
    return classify(inp, "mlp", model)
