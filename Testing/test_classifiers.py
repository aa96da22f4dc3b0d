"""Voxel classifiers: trained with scikit-learn, stored as safetensors arrays, checked by SHA-256."""
import json

import numpy as np
import pytest

from LVScarSegLogic import training
from LVScarSegLogic.errors import InputError
from LVScarSegLogic.methods import registry
from LVScarSegLogic.methods.classifiers import KINDS, load_model
from LVScarSegLogic.methods.runner import run_scar_method
from conftest import run_cli
from test_methods import ring


def _ring_codes(wall, scar, rim=None):
    z, y, x = np.mgrid[:wall.shape[0], :80, :80]
    codes = np.where(np.hypot(x - 40, y - 40) < 20, 1, 0).astype(np.uint8)
    codes[wall] = 2
    if rim is not None:
        codes[rim] = 5
    codes[scar] = 3
    return codes


@pytest.fixture(scope="module")
def ring_samples():
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for seed in (10, 11, 12):
        image, wall, scar, grid, rim, _ = ring(seed=seed, gray=True, gray_value=0.45)
        x, y = training.case_samples(image, _ring_codes(wall, scar, rim), grid, 150, rng, observer_seed=seed)
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


@pytest.mark.parametrize("kind", KINDS)
def test_each_classifier_round_trips_through_safetensors_and_finds_the_scar(kind, ring_samples, tmp_path):
    x, y = ring_samples
    assert set(np.unique(y)) == {0, 1, 2}
    tensors = training.fit(kind, x, y, seed=0)
    path = tmp_path / f"scar-{kind}.safetensors"
    manifest = training.save(path, kind, tensors, "three synthetic rings", "BSD-3-Clause", len(y))
    assert json.loads(path.with_suffix(".json").read_text())["sha256"] == manifest["sha256"]
    assert "three synthetic rings" in path.with_suffix(".md").read_text()
    assert not path.read_bytes().startswith(b"\x80")  # not a pickle
    image, wall, scar, grid, _, _ = ring(seed=20)
    m = registry.get(kind, "scar")
    params = m.defaults()
    params["model"] = str(path)
    res = run_scar_method(m, image, wall, grid, params)
    dice = 2 * (res.scar & scar).sum() / (res.scar.sum() + scar.sum())
    assert dice > 0.85, kind
    assert res.info["model_sha256"] == manifest["sha256"]


def test_tampered_or_unmanifested_models_are_refused(ring_samples, tmp_path):
    x, y = ring_samples
    path = tmp_path / "m.safetensors"
    training.save(path, "knn", training.fit("knn", x, y, 0), "rings", "BSD-3-Clause", len(y))
    tensors, meta = load_model(path)
    assert meta["kind"] == "knn" and "points" in tensors
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="SHA-256 does not match"):
        load_model(path)
    path.with_suffix(".json").unlink()
    with pytest.raises(InputError, match="no manifest"):
        load_model(path)
    with pytest.raises(InputError, match="not found"):
        load_model(tmp_path / "absent.safetensors")


def test_train_classifier_command_learns_from_labelled_cases(tmp_path, lowres_case):
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "labels").mkdir()
    import shutil

    shutil.copy(lowres_case["image"], data / "images" / "a.nrrd")
    shutil.copy(lowres_case["label"], data / "labels" / "a.nrrd")
    out = tmp_path / "mine.safetensors"
    r = run_cli("--quiet", "train-classifier", data, "-o", out, "--method", "random-forest",
                "--samples-per-class", "200", "--license", "CC0")
    assert r.code == 0, r.err
    assert out.exists() and json.loads(out.with_suffix(".json").read_text())["license"] == "CC0"
    seg = tmp_path / "s.seg.nrrd"
    r = run_cli("--quiet", "segment", lowres_case["image"], "--myocardium", lowres_case["label"], "-o", seg,
                "--scar-method", "random-forest", "--param", f"model={out}")
    assert r.code == 0, r.err
    assert run_cli("train-classifier", data, "-o", tmp_path / "x.bin", "--method", "svm").code == 2
