"""``lvscarseg train-classifier``: voxel classifiers learnt from labelled cases (scikit-learn),
exported as plain arrays in safetensors files with a manifest and a model card."""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Dict, Tuple

import numpy as np

from . import __version__
from . import labels as L
from .errors import InputError
from .files import atomic_output, sha256_of, write_text_atomic
from .methods.features import FEATURES, voxel_features


def case_samples(image, codes, grid, per_class: int, rng, observer_seed=None) -> Tuple[np.ndarray, np.ndarray]:
    """Features and classes (0 healthy/other, 1 gray zone, 2 infarct) of wall voxels of one case."""
    from .phantom.observer import observer_myocardium
    from .methods.base import ScarInput
    from .methods.runner import crop_box

    wall = L.lv_myocardium(codes)
    if observer_seed is not None:
        wall = observer_myocardium(wall, grid.spacing, observer_seed)
    if not wall.any():
        return np.zeros((0, len(FEATURES)), np.float32), np.zeros(0, np.int64)
    box = crop_box(wall, grid.spacing)
    inp = ScarInput(image=np.ascontiguousarray(image[box], dtype=np.float32), myocardium=wall[box], grid=grid)
    x = voxel_features(inp)
    c = codes[box][wall[box]]
    y = np.where(np.isin(c, L.INFARCT_CODES), 2, np.where(c == L.GRAYZONE, 1, 0))
    keep = []
    for cls in range(3):
        idx = np.nonzero(y == cls)[0]
        if idx.size:
            keep.append(rng.choice(idx, size=min(per_class, idx.size), replace=False))
    keep = np.concatenate(keep) if keep else np.zeros(0, np.int64)
    return x[keep], y[keep]


def collect(data_dir, per_class: int, seed: int, observer: bool, progress=lambda f, m: None):
    from .datasets import find_cases, load_case

    rng = np.random.default_rng(seed)
    xs, ys, names = [], [], []
    cases = find_cases(data_dir)
    for n, case in enumerate(cases):
        progress(n / len(cases) * 0.5, f"features: {case.name}")
        image, codes, grid = load_case(case)
        for obs in ([None, n] if observer else [None]):
            x, y = case_samples(image, codes, grid, per_class, rng, obs)
            xs.append(x)
            ys.append(y)
        names.append(case.name)
    x, y = np.concatenate(xs), np.concatenate(ys)
    if len(np.unique(y)) < 2:
        raise InputError(f"{data_dir}: the labels hold fewer than two classes (need scar and healthy myocardium)")
    return x, y, names


SVM_SAMPLES_PER_CLASS = 1000  # about 1500 support vectors: a few seconds per 3D volume
KNN_SAMPLES_PER_CLASS = 10000  # the neighbour search scales with the stored points


def _balanced(x: np.ndarray, y: np.ndarray, per_class: int, seed: int):
    rng = np.random.default_rng(seed)
    keep = np.concatenate([rng.choice(np.nonzero(y == c)[0], size=min(per_class, int((y == c).sum())), replace=False)
                           for c in np.unique(y)])
    return x[keep], y[keep]


def fit(kind: str, x: np.ndarray, y: np.ndarray, seed: int) -> Dict[str, np.ndarray]:
    """Train with scikit-learn and export the fitted model as arrays."""
    mean, scale = x.mean(0), x.std(0) + 1e-6
    xs = (x - mean) / scale
    t: Dict[str, np.ndarray] = {"feature_mean": mean.astype(np.float32), "feature_scale": scale.astype(np.float32)}
    classes = 3
    if kind == "svm":
        from sklearn.svm import SVC

        # Kernel inference costs voxels x support vectors: train on a class-balanced subset so
        # that the model keeps about a thousand or two support vectors (seconds per volume).
        xs, y = _balanced(xs, y, SVM_SAMPLES_PER_CLASS, seed)
        gamma = 1.0 / x.shape[1]
        svs, coefs, intercepts = [], [], []
        for c in range(classes):  # one-vs-rest, so that inference is one kernel product
            model = SVC(kernel="rbf", C=3.0, gamma=gamma).fit(xs, (y == c).astype(int))
            svs.append(model.support_vectors_)
            coefs.append(model.dual_coef_[0])
            intercepts.append(model.intercept_[0])
        total = sum(len(s) for s in svs)
        dual = np.zeros((classes, total))
        start = 0
        for c, (s, k) in enumerate(zip(svs, coefs)):
            dual[c, start:start + len(s)] = k
            start += len(s)
        t.update(support_vectors=np.concatenate(svs).astype(np.float32), dual_coef=dual,
                 intercept=np.array(intercepts), gamma=np.array([gamma]))
    elif kind == "knn":
        xs, y = _balanced(xs, y, KNN_SAMPLES_PER_CLASS, seed)
        t.update(points=xs.astype(np.float32), labels=y.astype(np.int64), k=np.array([15]),
                 n_classes=np.array([classes]))
    elif kind == "random-forest":
        from sklearn.ensemble import RandomForestClassifier

        rf = RandomForestClassifier(n_estimators=40, max_depth=12, min_samples_leaf=3, random_state=seed,
                                    n_jobs=1).fit(xs, y)
        parts = {k: [] for k in ("left", "right", "feature", "threshold", "value")}
        offsets, offset = [], 0
        for est in rf.estimators_:
            tr = est.tree_
            value = np.zeros((tr.node_count, classes))
            value[:, rf.classes_.astype(int)] = tr.value[:, 0, :] / np.maximum(tr.value[:, 0, :].sum(1, keepdims=True), 1e-12)
            parts["left"].append(tr.children_left)
            parts["right"].append(tr.children_right)
            parts["feature"].append(np.maximum(tr.feature, 0))
            parts["threshold"].append(tr.threshold)
            parts["value"].append(value)
            offsets.append(offset)
            offset += tr.node_count
        t.update({k: np.concatenate(v) for k, v in parts.items()})
        t["left"], t["right"] = t["left"].astype(np.int64), t["right"].astype(np.int64)
        t["feature"] = t["feature"].astype(np.int64)
        t.update(tree_offsets=np.array(offsets, dtype=np.int64), n_trees=np.array([len(offsets)]))
    elif kind == "mlp":
        from sklearn.neural_network import MLPClassifier

        mlp = MLPClassifier(hidden_layer_sizes=(32, 16), alpha=1e-3, max_iter=400, early_stopping=True,
                            random_state=seed).fit(xs, y)
        for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_)):
            t[f"W{i}"], t[f"b{i}"] = w, b
        t["n_layers"] = np.array([len(mlp.coefs_)])
    else:
        raise InputError(f"unknown classifier '{kind}'")
    return t


def save(path, kind: str, tensors: Dict[str, np.ndarray], trained_on: str, license: str,
         samples: int, extra_card: str = "") -> Dict[str, object]:
    """Write NAME.safetensors, NAME.json (manifest with SHA-256) and NAME.md (model card)."""
    from safetensors.numpy import save_file

    p = Path(path)
    if not p.name.endswith(".safetensors"):
        raise InputError(f"{p}: the model file must end in .safetensors")
    meta = {"kind": kind, "features": ",".join(FEATURES), "classes": "healthy,grayzone,scar",
            "software": f"LVScarSeg {__version__}"}
    with atomic_output(p) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(tmp), metadata=meta)
    digest = sha256_of(p)
    name = p.name[: -len(".safetensors")]
    manifest = {"name": name, "file": p.name, "sha256": digest, "kind": kind, "license": license,
                "trained_on": trained_on, "model_card": f"{name}.md", "size_bytes": p.stat().st_size,
                "created": time.strftime("%Y-%m-%d"), "software": f"LVScarSeg {__version__}",
                "python": platform.python_version()}
    write_text_atomic(p.with_suffix(".json"), json.dumps(manifest, indent=2) + "\n")
    card = (f"# {name}\n\nScar voxel classifier (`{kind}`) for `lvscarseg segment --scar-method {kind}`.\n\n"
            f"- Classes: healthy myocardium, gray zone, scar (MVO is added afterwards as a dark enclosed core).\n"
            f"- Features (per wall voxel, normalised per case): {', '.join(FEATURES)}.\n"
            f"- Trained on: {trained_on} ({samples} voxels).\n- License: {license}.\n"
            f"- File: `{p.name}`, SHA-256 `{digest}`; plain arrays in safetensors, no pickles.\n"
            f"- Intended use: research and clinical review of LGE scar inside a given or predicted LV myocardium;"
            f" always check the result visually.\n{extra_card}")
    write_text_atomic(p.with_suffix(".md"), card)
    return manifest


def train_command(data_dir, output: str, method: str, samples_per_class: int, seed: int, observer: bool,
                  license: str, progress=lambda f, m: None) -> Dict[str, object]:
    """``lvscarseg train-classifier``: sample, fit and save; the manifest. The data's provenance
    (a phantom folder's seed) goes into the model card."""
    import json
    from pathlib import Path

    from .errors import InputError
    from .files import check_output_path

    if not output.endswith(".safetensors"):
        raise InputError(f"{output}: the model file must end in .safetensors")
    check_output_path(output, [data_dir])
    if samples_per_class < 10:
        raise InputError(f"--samples-per-class {samples_per_class}: at least 10")
    x, y, names = collect(data_dir, samples_per_class, seed, observer, progress)
    progress(0.6, f"fitting {method} on {len(y)} voxels")
    tensors = fit(method, x, y, seed)
    trained_on = f"{len(names)} cases from {Path(data_dir).resolve().name}"
    phantom = Path(data_dir) / "phantom.json"
    if phantom.exists():
        trained_on = (f"{len(names)} synthetic LGE phantom cases (lvscarseg phantom --seed "
                      f"{json.loads(phantom.read_text())['seed']}), true and observer-perturbed walls")
    return save(output, method, tensors, trained_on, license, len(y))
