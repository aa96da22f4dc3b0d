"""Deep learning, training: prepared cases and their views (a thick-slice stack's own slices),
batches and augmentation, validation as at inference, and the trainer (few steps, checkpoints,
resume, DDP with 2 gloo processes, fine-tuning, refused model files).

Needs torch and MONAI (`make test` installs them on Python 3.11; the Python 3.9 run leaves this
file out by name, see the Makefile). Inference with the shipped models is test_deep.py."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, run_cli

torch = pytest.importorskip("torch", reason="the deep-learning tests need torch (pip install '.[dl]')")


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    """A prepared-case cache of two small phantoms, shared by the training tests."""
    from LVScarSegLogic.deep.data import phantom_cases

    d = tmp_path_factory.mktemp("train")
    phantom_cases(2, 3, ("3d-lowres",), 1, d / "cache")
    phantom_cases(1, 4, ("3d-lowres",), 1, d / "cache")  # validation: seed + 1
    return d


def _train_args(d, task, out, steps, *extra):
    return ["--quiet", "train", "--task", task, "--phantoms", "2", "--phantom-seed", "3", "--protocols", "3d-lowres",
            "--val-cases", "1", "--steps", str(steps), "--batch", "4", "--val-every", "2", "--cache", d / "cache",
            "--device", "cpu", "-o", out, *extra]


def test_training_walls_are_drawn_like_an_observer():
    """The scar networks learn from walls a voxel too tight here and too wide there (as people and
    the myocardium networks draw them), not only from the true wall."""
    from LVScarSegLogic.deep.augment import observer_wall

    yy, xx = torch.meshgrid(torch.arange(96), torch.arange(96), indexing="ij")
    r = ((yy - 48) ** 2 + (xx - 48) ** 2).float().sqrt()
    wall = ((r > 15) & (r < 22)).float().expand(64, 1, 96, 96).contiguous()
    drawn = observer_wall(wall, 2, torch.Generator().manual_seed(0))
    assert set(drawn.unique().tolist()) <= {0.0, 1.0}
    removed = ((wall == 1) & (drawn == 0)).flatten(1).sum(1)
    added = ((wall == 0) & (drawn == 1)).flatten(1).sum(1)
    unchanged = (removed == 0) & (added == 0)
    assert 0.05 < unchanged.float().mean() < 0.4  # some samples keep the true wall
    both = (removed > 0) & (added > 0)
    assert both.float().mean() > 0.5  # most are too tight in places and too wide in others
    # only near the borders: nothing moves by more than two voxels
    far = (r < 12) | (r > 25)
    assert not (drawn[:, 0] != wall[:, 0])[:, far].any()


def test_localizer_intensity_augmentation_keeps_the_order_of_tissue_brightness():
    """The localizer's random intensity curve changes the ratios between tissues but never their
    order (a brighter tissue stays brighter), and differs from sample to sample; the organ-scale
    texture is a positive multiplicative field."""
    import torch

    from LVScarSegLogic.deep import augment as A

    gen = torch.Generator().manual_seed(0)
    img = torch.rand(6, 1, 8, 16, 16) * 3 + 1
    out = A.intensity_remap(img, gen, keep=0.0)
    assert out.min() >= 0 and out.max() <= 1.0 + 1e-6
    for before, after in zip(img.reshape(6, -1), out.reshape(6, -1)):
        assert (after[torch.argsort(before)].diff() >= -1e-6).all()
    medians = out.reshape(6, -1).median(1).values
    assert medians.max() - medians.min() > 0.1  # a different curve for each sample
    textured = A.clutter_field(out + 0.5, gen, probability=1.0)
    assert (textured > 0).all() and not torch.allclose(textured, out + 0.5)


def test_train_save_verify_and_fine_tune(train_dir, tmp_path):
    out = tmp_path / "scar-cnn.safetensors"
    r = run_cli(*_train_args(train_dir, "scar-cnn", out, 3))
    assert r.code == 0, r.err
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["task"] == "scar-cnn" and info["training"]["steps"] == 3 and info["license"] == "BSD-3-Clause"
    assert len(info["training"]["history"]) == 2 and 0.0 <= info["training"]["validation_dice"] <= 1.0
    card = (tmp_path / "scar-cnn.md").read_text()
    assert "## Training data" in card and "## License" in card and "## Measured accuracy" in card
    from LVScarSegLogic.deep.loading import load_model

    model, task, manifest = load_model("scar-cnn", str(out), "cpu")
    assert task.name == "scar-cnn" and manifest["sha256"] == info["sha256"]
    # fine-tuning starts from the given weights; a model of another task is refused
    # (and may learn from the walls the default myocardium model draws on the cases)
    r = run_cli(*_train_args(train_dir, "scar-cnn", tmp_path / "ft.safetensors", 1, "--init", out,
                             "--model-walls", "0.5"))
    assert r.code == 0, r.err
    trained_on = json.loads((tmp_path / "ft.json").read_text())["trained_on"]
    assert "initialized from scar-cnn.safetensors" in trained_on and "walls drawn by the default myocardium" in trained_on
    assert "the wall the default myocardium model draws" in (tmp_path / "ft.md").read_text()
    r = run_cli(*_train_args(train_dir, "scar-gan", tmp_path / "x.safetensors", 1, "--init", out))
    assert r.code == 2 and "scar-cnn model cannot be used as scar-gan" in r.err


def test_tampered_or_unlisted_model_is_refused(train_dir, tmp_path, lowres_case):
    src = ROOT / "Resources" / "Models"
    for suffix in (".safetensors", ".json"):
        shutil.copy(src / f"scar-cmpunet{suffix}", tmp_path / f"scar-cmpunet{suffix}")
    model = tmp_path / "scar-cmpunet.safetensors"
    data = bytearray(model.read_bytes())
    data[-100] ^= 0x01  # one flipped bit in the weights
    model.write_bytes(bytes(data))
    out = tmp_path / "o.seg.nrrd"
    args = ["--quiet", "segment", lowres_case["image"], "--myocardium", lowres_case["label"], "--scar-method",
            "cmpunet", "-o", out]
    r = run_cli(*args, "--param", f"model={model}")
    assert r.code == 2 and "SHA-256 does not match" in r.err and not out.exists()
    (tmp_path / "scar-cmpunet.json").unlink()
    r = run_cli(*args, "--param", f"model={model}")
    assert r.code == 2 and "refusing to load" in r.err and not out.exists()
    # an empty model directory names what to do
    empty = tmp_path / "empty"
    empty.mkdir()
    os.environ["LVSCARSEG_MODELS_DIR"] = str(empty)
    try:
        r = run_cli("--quiet", "segment", lowres_case["image"], "-o", out)
    finally:
        del os.environ["LVSCARSEG_MODELS_DIR"]
    assert r.code == 2 and "lvscarseg train --task" in r.err and not out.exists()


def test_checkpoint_and_resume(train_dir, tmp_path):
    ck = tmp_path / "ck"
    out = tmp_path / "m.safetensors"
    r = run_cli(*_train_args(train_dir, "myocardium-gan", out, 2, "--checkpoint-dir", ck, "--checkpoint-every", "2"))
    assert r.code == 0, r.err
    state = json.loads((ck / "state.json").read_text())
    assert state["step"] == 2 and (ck / "optimizer.safetensors").exists() and (ck / "disc.safetensors").exists()
    r = run_cli(*_train_args(train_dir, "myocardium-gan", out, 4, "--checkpoint-dir", ck, "--resume"))
    assert r.code == 0, r.err
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["training"]["steps"] == 4 and [h["step"] for h in info["training"]["history"]] == [2, 4]
    r = run_cli(*_train_args(train_dir, "scar-cnn", out, 4, "--checkpoint-dir", ck, "--resume"))
    assert r.code == 2 and "checkpoint is of task myocardium-gan" in r.err


def test_distributed_data_parallel_two_cpu_processes(train_dir, tmp_path):
    out = tmp_path / "ddp.safetensors"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "LVScarSegLogic"] + [str(a) for a in _train_args(train_dir, "scar-gan", out, 2)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["training"]["processes"] == 2 and info["training"]["steps"] == 2


def test_bright_infarct_augmentation_moves_only_the_infarct_to_blood_brightness():
    """--bright-infarct: a myocardium network also sees infarct as bright as blood or brighter (as
    DICOM-quality LGE shows it); the wall's label does not change, MVO and every other tissue keep
    their values, a case without infarct is returned unchanged, and the option is range-checked."""
    from LVScarSegLogic import labels as L
    from LVScarSegLogic.deep import data as D
    from LVScarSegLogic.deep.config import TrainConfig
    from LVScarSegLogic.errors import InputError

    rng = np.random.default_rng(0)
    codes = np.zeros((2, 40, 40), np.uint8)
    codes[:, 10:30, 10:30] = L.MYOCARDIUM
    codes[:, 15:25, 15:25] = L.BLOODPOOL
    codes[:, 10:13, 12:20] = L.SCAR
    codes[:, 10:12, 20:22] = L.MVO
    image = np.where(codes == L.BLOODPOOL, 0.7, np.where(codes == L.SCAR, 0.3, 0.1)).astype(np.float32)
    image += rng.normal(0, 0.01, image.shape).astype(np.float32)
    out = D.brighten_infarct(image, codes, np.random.default_rng(1))
    infarct, rest = codes == L.SCAR, codes != L.SCAR
    ratio = out[infarct].mean() / image[codes == L.BLOODPOOL].mean()
    assert 0.8 <= ratio <= 1.4
    assert np.allclose(out[infarct] - out[infarct].mean(), image[infarct] - image[infarct].mean(), atol=1e-5)
    assert np.array_equal(out[rest], image[rest])  # MVO, wall, blood and background untouched
    healthy = np.where(codes == L.SCAR, L.MYOCARDIUM, codes)
    assert D.brighten_infarct(image, healthy, rng) is image
    with pytest.raises(InputError, match="bright-infarct"):
        TrainConfig(task="myocardium-cmpunet", output="m.safetensors", bright_infarct=1.5).check()


def _ring_stack_with_scar(size: int, blood_r: float, wall_r: float, scar_rows: int, blood: float, scar: float):
    """A prepared 6-slice stack (10 mm slices, 1.5 mm pixels) of a ring of wall (40) around a blood
    pool, the wall's part above row ``scar_rows`` infarct; every slice a grey level brighter."""
    from LVScarSegLogic import labels as L
    from LVScarSegLogic.deep import data as D

    k, j, i = np.mgrid[:6, :size, :size]
    r = np.hypot(j - size // 2, i - size // 2)
    codes = np.where(r < blood_r, L.BLOODPOOL, np.where(r < wall_r, L.MYOCARDIUM, 0)).astype(np.uint8)
    codes[(codes == L.MYOCARDIUM) & (j < scar_rows)] = L.SCAR
    image = np.where(codes == L.BLOODPOOL, blood, np.where(codes == L.SCAR, scar, 40.0)) + k
    return D.prepare(image, codes, (10.0, 1.5, 1.5), "stack", np.random.default_rng(0))


def test_infarct_weight_marks_infarct_wall_through_augmentation_and_weights_only_it():
    """--infarct-weight: in a myocardium batch, infarct (and MVO) wall voxels carry the mark
    INFARCT_WALL, which the geometric augmentation moves with the labels; ``infarct_weights`` turns
    it back into wall (the targets equal an unmarked batch's) and into a weight of W there, 1
    elsewhere; the option is range-checked."""
    import torch

    from LVScarSegLogic.deep import data as D
    from LVScarSegLogic.deep.augment import augment
    from LVScarSegLogic.deep.config import TrainConfig
    from LVScarSegLogic.deep.tasks import TASKS
    from LVScarSegLogic.errors import InputError

    case = _ring_stack_with_scar(80, 10, 16, 34, blood=200.0, scar=180.0)
    task = TASKS["myocardium-cmpunet"]
    x0, plain = D.sample_batch([case], task, 8, np.random.default_rng(3))
    x1, marked = D.sample_batch([case], task, 8, np.random.default_rng(3), mark_infarct=True)
    assert torch.equal(x0, x1) and (marked == D.INFARCT_WALL).any()
    assert torch.equal(torch.where(marked == D.INFARCT_WALL, torch.full_like(marked, 2), marked), plain)
    gen = torch.Generator().manual_seed(0)
    _, moved = augment(x1, marked, task, gen, synth=True)
    y, weight = D.infarct_weights(moved, 4.0)
    assert set(np.unique(y.numpy())) <= {0, 1, 2} and (moved == D.INFARCT_WALL).any()
    assert torch.equal(weight == 4.0, moved == D.INFARCT_WALL) and set(np.unique(weight.numpy())) == {1.0, 4.0}
    assert bool((y[moved == D.INFARCT_WALL] == 2).all())
    with pytest.raises(InputError, match="infarct-weight"):
        TrainConfig(task="myocardium-cmpunet", output="m.safetensors", infarct_weight=0.5).check()


def test_border_blood_weight_weights_only_blood_within_two_voxels_of_the_wall():
    """--border-blood-weight: blood pool voxels at most 2 voxels (chessboard) from a wall voxel get
    the weight B; blood farther in, background and wall keep 1 (infarct wall keeps its own W)."""
    import torch

    from LVScarSegLogic.deep import data as D
    from LVScarSegLogic.deep.config import TrainConfig
    from LVScarSegLogic.errors import InputError

    y = torch.zeros((1, 20, 20), dtype=torch.long)
    y[0, 2:18, 2:18] = 2          # wall
    y[0, 5:15, 5:15] = 1          # blood, 10x10: its rim of 2 voxels is next to the wall
    y[0, 2, 2] = D.INFARCT_WALL
    out, w = D.infarct_weights(y, 4.0, border_blood=3.0)
    assert int(out[0, 2, 2]) == 2 and float(w[0, 2, 2]) == 4.0
    blood = out[0] == 1
    ring = torch.zeros_like(blood)
    ring[5:15, 5:15] = True
    ring[7:13, 7:13] = False
    assert torch.equal((w[0] == 3.0), ring & blood)
    assert bool((w[0][blood & ~ring] == 1.0).all()) and float(w[0, 0, 0]) == 1.0
    _, plain = D.infarct_weights(y, 4.0)
    assert set(np.unique(plain.numpy())) == {1.0, 4.0}
    with pytest.raises(InputError, match="border-blood-weight"):
        TrainConfig(task="myocardium-cmpunet", output="m.safetensors", border_blood_weight=0.0).check()


def test_2d_networks_train_on_a_thick_slice_stack_s_own_slices(tmp_path):
    """Training sees a thick-slice stack as inference does: the 2D networks get its acquired slices
    (in-plane at 1.25 mm, slice count kept, one plane), never slices interpolated between two
    acquired ones; 3D networks keep the isotropic grid; the native view survives the cache and
    the permuted-contrast copy."""
    from LVScarSegLogic import labels as L
    from LVScarSegLogic.deep import data as D
    from LVScarSegLogic.deep.tasks import TASKS

    k, j, i = np.mgrid[:6, :80, :80]
    r = np.hypot(j - 40, i - 40)
    codes = np.where(r < 10, L.BLOODPOOL, np.where(r < 16, L.MYOCARDIUM, 0)).astype(np.uint8)
    codes[0] = 0  # a slice without the heart
    image = np.where(codes == L.BLOODPOOL, 200.0, np.where(codes == L.MYOCARDIUM, 40.0, 90.0)) + k
    case = D.prepare(image, codes, (10.0, 1.5, 1.5), "stack", np.random.default_rng(0))
    assert case.slice_axis == 0 and case.native_spacing == (10.0, 1.25, 1.25)
    assert case.native_image.shape[0] == 6 and case.image.shape[0] > 6  # own slices vs the 1.25 mm grid
    cmp, unet3d = TASKS["myocardium-cmpunet"], TASKS["myocardium-unet"]
    img, cod, spacing, planes = case.view(cmp)
    assert img is case.native_image and planes == (0,) and spacing == (10.0, 1.25, 1.25)
    assert case.view(unet3d)[0] is case.image and case.view(unet3d)[3] == ()
    # each acquired slice one grey level: a sample taken between two slices would show a blend
    layered = D.prepare(np.broadcast_to(k * 10.0, codes.shape).copy(), codes, (10.0, 1.5, 1.5), "layers",
                        np.random.default_rng(0))
    x, y = D.sample_batch([layered], cmp, 16, np.random.default_rng(1))
    assert x.shape == (16, 1, 96, 96) and set(np.unique(y.numpy())) <= {0, 1, 2}
    acquired = np.unique(layered.native_image)
    assert len(acquired) <= 6
    assert np.isin(np.unique(x[:, 0].numpy()), np.append(acquired, 0.0)).all(), \
        "a slice interpolated between two acquired ones reached the 2D network"
    assert len(np.unique(layered.image)) > 6  # (the isotropic grid does blend them)
    case.save(tmp_path / "c.npz")
    back = D.PreparedCase.load(tmp_path / "c.npz")
    assert back.slice_axis == 0 and back.native_spacing == (10.0, 1.25, 1.25)
    assert np.array_equal(back.native_codes, case.native_codes)
    swapped = D.permuted(case)
    assert swapped.native_image.shape == case.native_image.shape
    blood = case.native_codes == L.BLOODPOOL
    assert swapped.native_image[blood].mean() < case.native_image[blood].mean()  # blood now darker
    iso = D.prepare(image, codes, (1.5, 1.5, 1.5), "iso", np.random.default_rng(0))
    assert iso.native_image is None and iso.view(cmp)[3] == cmp.planes


def test_scar_validation_draws_the_observer_wall_in_the_stack_s_plane(monkeypatch):
    """Validation of a scar network on a thick-slice stack draws the observer-like wall in-plane:
    observer_myocardium gets the spacing in a Grid's (i, j, k) order, the slices' 10 mm last."""
    import torch

    from LVScarSegLogic.deep import scoring
    from LVScarSegLogic.deep.networks import build_for
    from LVScarSegLogic.deep.tasks import TASKS
    from LVScarSegLogic.phantom import observer

    case = _ring_stack_with_scar(64, 8, 14, 28, blood=150.0, scar=220.0)
    seen = []
    real = observer.observer_myocardium
    monkeypatch.setattr(observer, "observer_myocardium",
                        lambda wall, spacing, **kw: seen.append(tuple(spacing)) or real(wall, spacing, **kw))
    task = TASKS["scar-cmpunet"]
    model = build_for(task)
    score = scoring.validate(model, task, [case], torch.device("cpu"))
    assert 0.0 <= score <= 1.0 and seen == [(1.25, 1.25, 10.0)]


def test_a_model_s_wall_reaches_the_scar_network_as_drawn(monkeypatch):
    """--model-walls: a fraction of a scar network's samples get the wall a myocardium model drew
    (the endocardial ring included), marked MODEL_DRAWN; augmentation keeps that wall as drawn
    while a true wall is redrawn like an observer's; validation scores the model's wall too; the
    option is range-checked; the ring grows the wall into the cavity in-plane only."""
    import torch

    from LVScarSegLogic import labels as L
    from LVScarSegLogic.deep import data as D
    from LVScarSegLogic.deep import scoring
    from LVScarSegLogic.deep.augment import scar_wall_channel
    from LVScarSegLogic.deep.config import TrainConfig
    from LVScarSegLogic.deep.networks import build_for
    from LVScarSegLogic.deep.tasks import TASKS
    from LVScarSegLogic.errors import InputError
    from LVScarSegLogic.masks import with_endocardial_ring

    task = TASKS["scar-cmpunet"]
    case = _ring_stack_with_scar(64, 8, 14, 28, blood=150.0, scar=220.0)
    _, codes, spacing, _ = case.view(task)
    wall, cavity = np.isin(codes, L.LV_MYOCARDIUM_CODES), codes == L.BLOODPOOL
    tight = wall & ~np.roll(cavity, 2, axis=1)  # a model's wall, too tight toward the cavity
    ring = with_endocardial_ring(tight, cavity & ~tight, spacing[::-1])
    added = ring & ~tight
    assert added.any() and not (added & ~cavity).any()
    # one voxel in-plane only: nothing added on a slice the wall does not reach
    lone = np.zeros_like(tight)
    lone[3] = tight[3]
    assert not with_endocardial_ring(lone, cavity, spacing[::-1])[[2, 4]].any()
    case.model_wall = ring.astype(np.uint8)
    x, _ = D.sample_batch([case], task, 16, np.random.default_rng(0), model_walls=1.0)
    assert set(np.unique(x[:, 1].numpy())) <= {0.0, D.MODEL_DRAWN} and (x[:, 1] > 0).any()
    x, _ = D.sample_batch([case], task, 16, np.random.default_rng(0), model_walls=0.0)
    assert set(np.unique(x[:, 1].numpy())) <= {0.0, 1.0}
    # augmentation: the model's wall as drawn, the true wall moved like an observer's
    yy, xx = torch.meshgrid(torch.arange(96), torch.arange(96), indexing="ij")
    r = ((yy - 48) ** 2 + (xx - 48) ** 2).float().sqrt()
    mask = ((r > 15) & (r < 22)).float().expand(32, 1, 96, 96).contiguous()
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(scar_wall_channel(mask * D.MODEL_DRAWN, 2, gen), mask)
    moved = (scar_wall_channel(mask, 2, gen) != mask).flatten(1).any(1)
    assert moved.float().mean() > 0.5
    # validation: scored given the true wall, an observer's and the model's
    from LVScarSegLogic.deep import prediction

    calls = []
    real = prediction.predict
    monkeypatch.setattr(prediction, "predict", lambda *a, **k: calls.append(a[2][1]) or real(*a, **k))
    scoring.validate(build_for(task), task, [case], torch.device("cpu"))
    assert len(calls) == 3 and np.array_equal(calls[2].numpy() > 0, ring)
    with pytest.raises(InputError, match="--model-walls"):
        TrainConfig(task="scar-cmpunet", output="m.safetensors", model_walls=1.5).check()
