"""Deep learning, inference: the shipped models on phantoms, the working grid's geometry, the
inference plan (thick-slice stacks in-plane), LV candidates, re-centring, search and a given LV
centre, model cards and sets, the scar stage behind a model's wall. Training is test_deep_training.py.

Needs torch and MONAI (`make test` installs them on Python 3.11; the Python 3.9 run leaves this
file out by name, see the Makefile)."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from conftest import ROOT, run_cli

torch = pytest.importorskip("torch", reason="the deep-learning tests need torch (pip install '.[dl]')")


def _dice(a, b):
    return 2.0 * np.logical_and(a, b).sum() / max(a.sum() + b.sum(), 1)


def test_working_grid_round_trip_keeps_geometry():
    from LVScarSegLogic.deep import prep

    x = torch.zeros(30, 40, 50)
    x[10:20, 10:30, 20:30] = 1.0
    shape = prep.working_shape(x.shape, (3.0, 0.7, 0.7), 1.25)
    assert shape == (72, 22, 28)
    back = prep.resample(prep.resample(x, shape), x.shape) > 0.5
    # a box survives the round trip in place (centre of mass within a voxel)
    com = lambda a: np.argwhere(np.asarray(a)).mean(0)
    assert np.allclose(com(back), com(x > 0.5), atol=1.0)
    norm = prep.normalize(np.random.default_rng(0).normal(100, 10, (20, 20, 20)))
    assert -0.5 <= norm.min() and norm.max() <= 2.0 and abs(np.median(norm) - 0.5) < 0.1


def test_shipped_models_segment_a_phantom_fully_automatically(lowres_case, tmp_path):
    """Default `segment IMAGE -o OUT`: localizer, myocardium model, scar method; on the input grid."""
    from LVScarSegLogic.segio import read_label_codes
    from LVScarSegLogic import labels as L

    out = tmp_path / "auto.nrrd"
    rep = tmp_path / "auto.json"
    unc = tmp_path / "unc.nrrd"
    r = run_cli("--quiet", "segment", lowres_case["image"], "-o", out, "--report", rep, "--uncertainty", unc,
                "--device", "cpu")
    assert r.code == 0, r.err
    report = json.loads(rep.read_text())
    assert report["methods"]["myocardium"]["name"] == "cmpunet"
    assert report["methods"]["myocardium"]["details"]["localizer"]["box_kji"]
    codes, _ = read_label_codes(out, lowres_case["grid"], role="output", allow_empty=True)
    truth = lowres_case["codes"]
    assert _dice(L.lv_myocardium(codes), L.lv_myocardium(truth)) > 0.75
    from LVScarSegLogic.volume import read_volume

    u = read_volume(unc)
    assert u.grid.same_as(lowres_case["grid"]) and u.array.min() >= 0 and u.array.max() > 0


def test_dl_scar_methods_given_the_true_wall_and_determinism(lowres_case):
    from LVScarSegLogic import labels as L
    from LVScarSegLogic.methods import registry
    from LVScarSegLogic.methods.runner import run_scar_method

    image = lowres_case["array"].astype(np.float32)
    truth = lowres_case["codes"]
    wall = L.lv_myocardium(truth)
    for name in ("cnn", "unet", "cmpunet", "gan"):
        m = registry.get(name, "scar")
        res = run_scar_method(m, image, wall, lowres_case["grid"], m.defaults(), device="cpu")
        assert _dice(res.scar, L.infarct(truth)) > 0.6, name
        if name == "cmpunet":
            again = run_scar_method(m, image, wall, lowres_case["grid"], m.defaults(), device="cpu")
            assert np.array_equal(res.scar, again.scar)


def test_myocardium_methods_are_listed_with_a_default():
    r = run_cli("methods", "--json")
    methods = json.loads(r.out)
    myo = [m for m in methods if m["target"] == "myocardium"]
    assert {m["name"] for m in myo} == {"unet", "cmpunet", "gan"}
    assert sum(m["default"] for m in myo) == 1 and all("torch" in m["needs"] for m in myo)
    scar = {m["name"] for m in methods if m["target"] == "scar" and m["family"] == "deep learning"}
    assert scar == {"cnn", "unet", "cmpunet", "gan"}


def test_missing_torch_is_a_clear_input_error(monkeypatch):
    from LVScarSegLogic.errors import InputError
    from LVScarSegLogic.methods.deep_methods import _require_torch

    monkeypatch.setitem(sys.modules, "monai", None)
    with pytest.raises(InputError, match="needs PyTorch and MONAI"):
        _require_torch("unet")


def test_lv_plausibility_prefers_a_confident_ring_around_a_blood_pool():
    from LVScarSegLogic.deep.localization import lv_plausibility

    yy, xx = np.mgrid[:40, :40]
    r = np.hypot(yy - 20, xx - 20)
    ring = np.zeros((3, 4, 40, 40), np.float32)
    ring[0] = 1.0
    ring[:, :, r < 12] = np.array([0.05, 0.05, 0.9], np.float32)[:, None, None]  # wall
    ring[:, :, r < 8] = np.array([0.05, 0.9, 0.05], np.float32)[:, None, None]  # pool inside it
    blob = np.zeros_like(ring)
    blob[0] = 1.0
    blob[:, :, r < 10] = np.array([0.35, 0.4, 0.25], np.float32)[:, None, None]  # an unsure bright spot
    assert lv_plausibility(ring) > 1.3 > lv_plausibility(blob) > 0
    assert lv_plausibility(np.stack([np.ones((4, 40, 40))] + [np.zeros((4, 40, 40))] * 2)) == 0.0


def test_a_more_lv_like_candidate_replaces_the_localizer_s_strongest(lowres_case, monkeypatch):
    """Propose and verify: when the localizer's strongest candidate is empty background, the
    myocardium network's check picks the weaker candidate that holds the LV, and says so."""
    from LVScarSegLogic import labels as L
    from LVScarSegLogic.deep import infer, localization, prep

    image = lowres_case["array"].astype(np.float32)
    truth = lowres_case["codes"]
    spacing = tuple(reversed(lowres_case["grid"].spacing))
    lv_box = prep.box_around(L.lv_myocardium(truth), spacing, 15.0)
    corner = tuple(slice(0, max(4, n // 4)) for n in image.shape)
    assert not L.lv_myocardium(truth)[corner].any()
    monkeypatch.setattr(infer, "localize_candidates",
                        lambda *a, **k: ([(corner, 900.0), (lv_box, 300.0)], {"model": "stub"}))
    codes, _, details, warnings = infer.segment_myocardium(image, spacing, "cmpunet", device="cpu")
    loc = details["localizer"]
    assert loc["chosen"] == 1 and len(loc["candidates"]) == 2
    assert loc["candidates"][1]["lv_plausibility"] > loc["candidates"][0]["lv_plausibility"] + localization.SWITCH_MARGIN
    assert any("candidate 2 of 2 was used" in w for w in warnings)
    assert _dice(codes == L.MYOCARDIUM, L.lv_myocardium(truth)) > 0.75


def test_the_image_centre_is_a_candidate_when_the_localizer_proposes_only_elsewhere(lowres_case, monkeypatch):
    """Short-axis stacks are planned on the heart: when the localizer's candidates all lie away
    from the image's centre (here only an empty corner), a box at the centre is judged too and
    taken when it is clearly more LV-like; the report and the warning say so. A localizer box that
    already covers the centre gets no extra box, and CENTRE_CANDIDATE False turns it off."""
    from LVScarSegLogic import labels as L
    from LVScarSegLogic.deep import infer, localization, prep

    image = lowres_case["array"].astype(np.float32)
    truth = lowres_case["codes"]
    spacing = tuple(reversed(lowres_case["grid"].spacing))
    corner = tuple(slice(0, max(4, n // 4)) for n in image.shape)
    lv_box = prep.box_around(L.lv_myocardium(truth), spacing, 15.0)
    assert localization.centre_candidate(image.shape, spacing, [corner]) is not None
    assert localization.centre_candidate(image.shape, spacing, [lv_box]) is None  # the phantom's LV is central
    monkeypatch.setattr(infer, "localize_candidates", lambda *a, **k: ([(corner, 900.0)], {"model": "stub"}))
    codes, _, details, warnings = infer.segment_myocardium(image, spacing, "cmpunet", device="cpu")
    loc = details["localizer"]
    assert len(loc["candidates"]) == 2 and loc["candidates"][1]["source"] == "the image's centre"
    assert loc["chosen"] == 1 and any("the box at the image's centre was used" in w for w in warnings)
    assert _dice(codes == L.MYOCARDIUM, L.lv_myocardium(truth)) > 0.75
    monkeypatch.setattr(localization, "CENTRE_CANDIDATE", False)
    assert localization.centre_candidate(image.shape, spacing, [corner]) is None



def test_an_oversized_candidate_gets_a_box_around_its_peak_as_one_more_candidate(lowres_case, monkeypatch):
    """In a wide field of view the localizer's LV region can run into the RV and the atria; a
    candidate box wider than OVERSIZED_MM gets a search-window box around its peak (a stack keeps
    the candidate's slices), which the myocardium network judges like the others."""
    from LVScarSegLogic import labels as L
    from LVScarSegLogic.deep import infer, localization

    stack = (10.0, 0.75, 0.75)
    wide = (slice(0, 6), slice(10, 400), slice(0, 300))  # 292 x 225 mm in-plane
    small = (slice(1, 5), slice(100, 220), slice(100, 220))  # 90 mm
    boxes = localization.peak_candidates([(wide, 9.0), (small, 3.0)], [[2.0, 300.0, 150.0], [3.0, 160.0, 160.0]],
                                         (6, 480, 480), stack)
    assert len(boxes) == 1
    (k, j, i), = boxes
    assert k == wide[0] and (j.stop - j.start) * 0.75 == pytest.approx(localization.SEARCH_WINDOW_MM, abs=1.5)
    assert j.start < 300 < j.stop and i.start < 150 < i.stop

    image = lowres_case["array"].astype(np.float32)
    truth = lowres_case["codes"]
    spacing = tuple(reversed(lowres_case["grid"].spacing))
    everything = tuple(slice(0, n) for n in image.shape)
    centre = [float(np.mean(ix)) for ix in np.nonzero(L.lv_myocardium(truth))]
    monkeypatch.setattr(localization, "OVERSIZED_MM", 0.5 * min(n * s for n, s in zip(image.shape, spacing)))
    monkeypatch.setattr(localization, "CENTRE_CANDIDATE", False)
    monkeypatch.setattr(infer, "localize_candidates",
                        lambda *a, **k: ([(everything, 900.0)], {"model": "stub", "peaks_kji": [centre]}))
    codes, _, details, _ = infer.segment_myocardium(image, spacing, "cmpunet", device="cpu")
    loc = details["localizer"]
    assert "peaks_kji" not in loc and len(loc["candidates"]) == 2
    assert loc["candidates"][1]["source"] == "the peak of an oversized candidate"
    assert "lv_plausibility" in loc["candidates"][1]
    assert _dice(codes == L.MYOCARDIUM, L.lv_myocardium(truth)) > 0.75

# The localization logic is checked on a phantom with the phantom-trained model, whose outputs on
# phantoms are the best understood; the default ("best") set is EMIDEC-trained.
def _phantom_model() -> str:
    from LVScarSegLogic.models import model_path

    return str(model_path("myocardium-cmpunet"))


def test_the_crop_is_recentred_on_the_lv_the_network_found(lowres_case, monkeypatch):
    """A localizer box that cuts the LV in half is redone around the LV the myocardium network
    found there: the whole wall comes back, and the report says the crop moved."""
    from LVScarSegLogic import labels as L
    from LVScarSegLogic.deep import infer, localization, prep

    image = lowres_case["array"].astype(np.float32)
    wall = L.lv_myocardium(lowres_case["codes"])
    spacing = tuple(reversed(lowres_case["grid"].spacing))
    lv_box = prep.box_around(wall, spacing, 15.0)
    centre_i = int(np.nonzero(wall)[2].mean())
    half = lv_box[:2] + (slice(centre_i, lv_box[2].stop),)  # the LV's right half and its margin
    monkeypatch.setattr(infer, "localize_candidates", lambda *a, **k: ([(half, 900.0)], {"model": "stub"}))

    def run():
        codes, _, details, _ = infer.segment_myocardium(image, spacing, "cmpunet", device="cpu",
                                                        model_path=_phantom_model())
        return _dice(codes == L.MYOCARDIUM, wall), details["localizer"]

    monkeypatch.setattr(localization, "RECENTRE_PASSES", 0)
    cut, _ = run()
    monkeypatch.setattr(localization, "RECENTRE_PASSES", 1)
    whole, loc = run()
    assert cut < 0.7 < 0.75 < whole, (cut, whole)
    assert loc["recentred"] == 1
    assert loc["box_kji"][2][0] < centre_i - 5  # the new crop reaches the LV's left half


def test_an_implausible_lv_starts_a_search_of_the_image(lowres_case, monkeypatch):
    """When the localizer's only candidate is background, the myocardium network's output there
    does not look like an LV: windows over the image are scored and the LV is found; when the
    image would need too many windows, the result is kept and the user is warned instead."""
    from LVScarSegLogic import labels as L
    from LVScarSegLogic.deep import infer, localization

    image = lowres_case["array"].astype(np.float32)
    wall = L.lv_myocardium(lowres_case["codes"])
    spacing = tuple(reversed(lowres_case["grid"].spacing))
    corner = tuple(slice(0, max(4, n // 4)) for n in image.shape)
    assert not wall[corner].any()
    monkeypatch.setattr(infer, "localize_candidates", lambda *a, **k: ([(corner, 900.0)], {"model": "stub"}))
    monkeypatch.setattr(localization, "CENTRE_CANDIDATE", False)  # the phantom's LV is central: no rescue there
    monkeypatch.setattr(localization, "SEARCH_TIME_LIMIT_S", 1e9)  # the whole search here; its time limit below
    steps = []
    codes, _, details, warnings = infer.segment_myocardium(image, spacing, "cmpunet", device="cpu",
                                                           progress=lambda f, m: steps.append((f, m)),
                                                           model_path=_phantom_model())
    loc = details["localizer"]
    assert loc["lv_plausibility"] < localization.LOW_PLAUSIBILITY and loc["searched"]
    assert 1 < loc["search"]["windows"] <= localization.MAX_SEARCH_WINDOWS
    # a search takes tens of seconds on real images: the user sees it advance
    searching = [(f, m) for f, m in steps if "searching the image for the LV (window" in m]
    assert searching and [f for f, _ in searching] == sorted(f for f, _ in searching)
    import re

    n = loc["search"]["windows"]
    parsed = [re.search(r"window (\d+) of (\d+)(, about \d+ s left)?\)$", m) for _, m in searching]
    assert all(p and int(p.group(2)) == n for p in parsed), (searching, n)
    windows = localization.search_windows(image.shape, spacing)
    assert len(windows) == n and windows[0] != windows[-1]
    centre_of = lambda box: np.array([(s.start + s.stop) / 2 for s in box])  # noqa: E731
    assert np.abs(centre_of(windows[0]) - np.array(image.shape) / 2).max() <= \
        np.abs(centre_of(windows[-1]) - np.array(image.shape) / 2).max()  # centre first
    assert all(p.group(3) for p in parsed[1:]) and loc["search"]["finished"]  # an estimate after the first
    assert loc["search"]["best_lv_plausibility"] >= localization.SEARCH_ACCEPT
    assert any("a search of the image found a better one" in w for w in warnings)
    assert _dice(codes == L.MYOCARDIUM, wall) > 0.75

    # the search is bounded in time: it stops with the best window so far and says so
    monkeypatch.setattr(localization, "SEARCH_TIME_LIMIT_S", 0.0)
    _, _, details, warnings = infer.segment_myocardium(image, spacing, "cmpunet", device="cpu",
                                                       model_path=_phantom_model())
    assert details["localizer"]["search"]["windows"] == 1 and not details["localizer"]["search"]["finished"]
    assert any("search for the LV stopped after 1 of its windows" in w for w in warnings)

    # and in windows: an image that needs more than MAX_SEARCH_WINDOWS has those nearest its centre
    # looked at (a fine-pixel stack in a wide field of view had been refused a search altogether)
    monkeypatch.setattr(localization, "SEARCH_TIME_LIMIT_S", 1e9)
    monkeypatch.setattr(localization, "MAX_SEARCH_WINDOWS", 2)
    _, _, details, warnings = infer.segment_myocardium(image, spacing, "cmpunet", device="cpu",
                                                       model_path=_phantom_model())
    search = details["localizer"]["search"]
    assert search["windows"] == 2 < len(windows) and not search["finished"]
    assert any("search for the LV stopped after 2 of its windows, those nearest the image's centre" in w
               for w in warnings)


def test_shipped_model_cards_are_what_their_manifests_say():
    """A card rewritten from its manifest (as scripts/annotate_model.py does) is the shipped card:
    an older model's card keeps describing the training that model had, not today's code."""
    from LVScarSegLogic.deep.tasks import TASKS
    from LVScarSegLogic.deep.config import EMIDEC_LICENSE
    from LVScarSegLogic.deep.model_card import model_card

    checked = 0
    for manifest in sorted((ROOT / "Resources" / "Models").glob("*.json")):
        m = json.loads(manifest.read_text())
        if "task" not in m:  # the scikit-learn classifiers have their own cards
            continue
        card = model_card(m, TASKS[m["task"]], m.get("license") == EMIDEC_LICENSE)
        assert card == manifest.with_name(m["model_card"]).read_text(), manifest.name
        checked += 1
    assert checked >= 11


def test_thick_slice_stacks_are_segmented_in_plane_on_their_own_slices():
    """A stack whose slices lie > 3 pixels apart runs the 2D networks across its own slices (no
    through-plane interpolation, one plane); a near-isotropic volume gets the multi-planar vote;
    the report's sentence says which way ran."""
    from LVScarSegLogic.deep import localization, prediction, prep
    from LVScarSegLogic.deep.tasks import TASKS

    cmp = TASKS["myocardium-cmpunet"]
    stack = prediction.inference_plan(cmp, (10.0, 1.5, 1.5))
    assert stack.planes == (0,) and stack.spacing_mm == (10.0, 1.25, 1.25) and stack.thick_slices
    assert "in-plane, slice by slice" in stack.description and "10 mm" in stack.description
    assert prep.working_shape((6, 256, 256), (10.0, 1.5, 1.5), stack.spacing_mm) == (6, 307, 307)
    sideways = prediction.inference_plan(cmp, (1.4, 9.0, 1.4))  # slices along j: taken across that axis
    assert sideways.planes == (1,) and sideways.spacing_mm[1] == 9.0
    iso = prediction.inference_plan(cmp, (2.0, 1.3, 1.3))
    assert iso.planes == (0, 1, 2) and iso.spacing_mm == (1.25,) * 3 and "multi-planar" in iso.description
    assert prediction.inference_plan(TASKS["myocardium-unet"], (10.0, 1.5, 1.5)).planes == ()  # 3D stays 3D
    assert localization.search_thresholds(stack) != localization.search_thresholds(iso)  # one plane is more confident than three
    assert prediction.thick_slice_axis((3.0, 1.0, 1.0)) is None and prediction.thick_slice_axis((3.1, 1.0, 1.0)) == 0


def test_a_given_lv_centre_replaces_the_localizer(lowres_case, monkeypatch):
    """--lv-center: no localizer and no search; the crop is centred on the point and the LV that
    holds it is kept, also when a bright structure elsewhere would look more like an LV."""
    from LVScarSegLogic import labels as L
    from LVScarSegLogic.deep import infer, localization

    def no_localizer(*a, **k):
        raise AssertionError("the localizer must not run when the LV centre is given")

    monkeypatch.setattr(infer, "localize_candidates", no_localizer)
    image = lowres_case["array"].astype(np.float32)
    truth = lowres_case["codes"]
    spacing = tuple(reversed(lowres_case["grid"].spacing))
    centre = tuple(float(np.mean(ax)) for ax in np.nonzero(truth == L.BLOODPOOL))
    codes, _, details, _ = infer.segment_myocardium(image, spacing, "cmpunet", device="cpu", lv_center_kji=centre)
    loc = details["localizer"]
    assert loc["lv_center_kji"] == [round(c, 2) for c in centre] and "search" not in loc and loc["box_kji"]
    assert _dice(codes == L.MYOCARDIUM, L.lv_myocardium(truth)) > 0.7
    # the kept component is the one at the point, not the largest one
    mask = np.zeros((20, 20, 20), bool)
    mask[2:5, 2:5, 2:5] = True
    mask[10:19, 10:19, 10:19] = True
    assert localization.component_nearest(mask, (3, 3, 3)).sum() == 27
    assert localization.component_nearest(mask, (7, 7, 7)).sum() == 27  # nearer to the small one
    assert localization.component_nearest(mask, (14, 14, 14)).sum() == 729


def test_lv_center_and_model_set_on_the_command_line(lowres_case, tmp_path):
    """--lv-center outside the image, a non-permissive model under --models permissive and a model
    of the wrong kind are input errors; the report lists every model file used with its license."""
    from LVScarSegLogic.models import model_path

    out, rep = tmp_path / "o.seg.nrrd", tmp_path / "r.json"
    r = run_cli("--quiet", "segment", lowres_case["image"], "-o", out, "--lv-center", "9999,0,0", "--device", "cpu")
    assert r.code == 2 and "--lv-center" in r.err and "outside the image" in r.err and not out.exists()
    r = run_cli("--quiet", "segment", lowres_case["image"], "-o", out, "--models", "permissive", "--param",
                f"myo_model={model_path('myocardium-cmpunet-emidec')}", "--device", "cpu")
    assert r.code == 2 and "not permissive" in r.err and not out.exists()
    # a model of the wrong kind is refused before anything runs, and the error says where it goes
    r = run_cli("--quiet", "segment", lowres_case["image"], "-o", out, "--param",
                f"model={model_path('myocardium-cmpunet-emidec')}", "--device", "cpu")
    assert r.code == 2 and "needs a scar-cmpunet model" in r.err and "goes in myo_model=" in r.err, r.err
    assert not out.exists()
    r = run_cli("--quiet", "segment", lowres_case["image"], "-o", out, "--myocardium", lowres_case["label"],
                "--models", "permissive", "--report", rep, "--device", "cpu")
    assert r.code == 0, r.err
    report = json.loads(rep.read_text())
    assert report["model_set"] == "permissive"
    assert [(m["task"], m["license"]) for m in report["models"]] == [("scar-cmpunet", "BSD-3-Clause")]
    assert "license BSD-3-Clause" in r.out


def test_randomized_appearance_training_segments_a_permuted_contrast_phantom(lowres_case):
    """A phantom whose blood pool is darker than its wall (LGE's brightness order swapped): the
    model trained with randomized appearance (--synth-appearance) finds the wall there, the
    phantom-trained model it was fine-tuned from does not; on the phantom as generated both do."""
    from LVScarSegLogic import labels as L
    from LVScarSegLogic.deep import infer
    from LVScarSegLogic.deep.data import swap_brightness
    from LVScarSegLogic.models import model_path

    codes = lowres_case["codes"]
    spacing = tuple(reversed(lowres_case["grid"].spacing))
    centre = tuple(float(np.mean(a)) for a in np.nonzero(codes == L.BLOODPOOL))
    image = lowres_case["array"].astype(np.float32)
    permuted = swap_brightness(image, codes)
    blood, wall = codes == L.BLOODPOOL, codes == L.MYOCARDIUM
    assert permuted[blood].mean() < permuted[wall].mean() and image[blood].mean() > image[wall].mean()

    def dice(img, name):
        out, _, _, _ = infer.segment_myocardium(img, spacing, "cmpunet", device="cpu", lv_center_kji=centre,
                                                model_path=str(model_path(name)))
        return _dice(out == L.MYOCARDIUM, L.lv_myocardium(codes))

    synth, phantom = dice(permuted, "myocardium-cmpunet-synth"), dice(permuted, "myocardium-cmpunet")
    assert synth > phantom + 0.2, (synth, phantom)
    assert dice(image, "myocardium-cmpunet-synth") > 0.8


def test_behind_a_model_s_wall_the_scar_network_sees_it_a_voxel_wider_toward_the_cavity(monkeypatch):
    """A myocardium model's endocardial border runs through bright subendocardial infarct: behind
    a model's wall the scar network gets the wall grown one voxel into the cavity; infarct it finds
    there counts (and is reported), healthy ring voxels stay out. A reader's wall is used as drawn."""
    import LVScarSegLogic.deep.infer as infer_mod
    from LVScarSegLogic.geometry import Grid
    from LVScarSegLogic.methods.base import ScarInput
    from LVScarSegLogic.methods.deep_methods import scar_cmpunet

    k, j, i = np.mgrid[:3, :48, :48]
    r = np.hypot(j - 24, i - 24)
    wall = (r >= 10) & (r < 15)
    ring = (r >= 9) & (r < 10)  # the voxel layer inside the wall, in the cavity
    seen = []

    def fake(image, given_wall, spacing_kji, method, device, tta, model_path):
        seen.append(given_wall.copy())
        probs = np.zeros((4,) + image.shape, np.float32)
        probs[0] = 1.0
        infarct = given_wall & (j < 20)  # the network calls the anterior wall (and ring) infarct
        probs[0][infarct], probs[2][infarct] = 0.0, 1.0
        return probs, None, dict(manifest, inference="test")

    manifest = {"name": "fake"}
    monkeypatch.setattr(infer_mod, "scar_probabilities", fake)
    grid = Grid.make(wall.shape[::-1], (1.5, 1.5, 8.0), (0, 0, 0), np.eye(3))
    image = np.ones(wall.shape, np.float32)
    model_wall = scar_cmpunet(ScarInput(image=image, myocardium=wall, grid=grid, wall_given=False))
    assert np.array_equal(seen[-1], wall | ring)
    assert (model_wall.scar & ring).any() and not (model_wall.scar & ring & (j >= 20)).any()
    assert model_wall.info["grown_wall_ml"] > 0 and any("beyond the model's myocardium" in w for w in model_wall.warnings)
    reader = scar_cmpunet(ScarInput(image=image, myocardium=wall, grid=grid, wall_given=True))
    assert np.array_equal(seen[-1], wall) and not (reader.scar & ~wall).any()


def test_a_scar_network_s_infarct_is_kept_only_where_one_component_is_convincing(monkeypatch):
    """A healthy heart's false scar is small, unconfident and short; a real infarct has a confident
    or long component. Two unconfident two-slice patches are dropped together (and reported); the
    same patches stay beside one confident patch, or beside an unconfident one reaching 20 mm
    through-plane; a confident patch under 200 mm^3 is no evidence; confidence_gate=0 keeps
    everything; by default the threshold is the model manifest's (none: off; off behind a model's
    wall). Dropping 2 % of the wall or more makes the verdict "uncertain"."""
    import LVScarSegLogic.deep.infer as infer_mod
    from LVScarSegLogic.geometry import Grid
    from LVScarSegLogic.methods.base import ScarInput
    from LVScarSegLogic.methods.confidence import REVIEW_PERCENT, REVIEW_PHRASE, unconvincing_infarct
    from LVScarSegLogic.methods.deep_methods import scar_cmpunet
    from LVScarSegLogic.quality import DROPPED_SCAR_PHRASES

    k, j, i = np.mgrid[:6, :48, :48]
    r = np.hypot(j - 24, i - 24)
    angle = np.degrees(np.arctan2(j - 24, i - 24))
    wall = (r >= 10) & (r < 15)
    weak = wall & (k >= 1) & (k <= 2) & (((angle > 0) & (angle < 40)) | ((angle > 100) & (angle < 140)))
    strong = wall & (k == 4) & (angle > -90) & (angle < -40)
    long_weak = wall & (k >= 1) & (k <= 3) & (angle > -170) & (angle < -120)  # 20 mm
    tiny_strong = wall & (k == 4) & (angle > -90) & (angle < -82)
    voxel_mm3 = 1.5 * 1.5 * 10.0
    assert strong.sum() * voxel_mm3 >= 200 and 20 <= tiny_strong.sum() * voxel_mm3 < 200
    patches = []  # (mask, infarct probability) that the fake network calls infarct

    def fake(image, given_wall, spacing_kji, method, device, tta, model_path):
        probs = np.zeros((4,) + image.shape, np.float32)
        probs[0] = 1.0
        for mask, p in patches:
            probs[0][mask], probs[2][mask] = 1 - p, p
        return probs, None, dict(manifest, inference="test")

    manifest = {"name": "fake"}
    monkeypatch.setattr(infer_mod, "scar_probabilities", fake)
    grid = Grid.make(wall.shape[::-1], (1.5, 1.5, 10.0), (0, 0, 0), np.eye(3))
    image = np.ones(wall.shape, np.float32)

    def run(*found, **params):
        patches[:] = found
        params.setdefault("confidence_gate", 0.78)
        return scar_cmpunet(ScarInput(image=image, myocardium=wall, grid=grid), basal_check=False, **params)

    healthy = run((weak, 0.7))
    assert not healthy.scar.any() and healthy.info["unconvincing_ml"] == pytest.approx(weak.sum() * voxel_mm3 / 1000)
    assert any("confidence_gate=0" in w for w in healthy.warnings)
    assert 100 * weak.sum() / wall.sum() >= REVIEW_PERCENT and any(REVIEW_PHRASE in w for w in healthy.warnings)
    assert REVIEW_PHRASE in DROPPED_SCAR_PHRASES
    small = weak & (angle < 15)  # part of one patch, under 2 % of the wall: no call for review
    assert 100 * small.sum() / wall.sum() < REVIEW_PERCENT
    assert not any(REVIEW_PHRASE in w for w in run((small, 0.7)).warnings)
    assert np.array_equal(run((weak, 0.7), confidence_gate=0).scar, weak)
    assert np.array_equal(run((weak, 0.7), (strong, 0.9)).scar, weak | strong)
    assert np.array_equal(run((weak, 0.7), (long_weak, 0.6)).scar, weak | long_weak)
    assert not run((weak, 0.7), (tiny_strong, 0.95)).scar.any()
    assert run((weak, 0.7), (strong, 0.9)).info["unconvincing_ml"] == 0
    # by default the threshold is the model's own: its manifest's, and off for a model without one
    patches[:] = [(weak, 0.7)]
    default = scar_cmpunet(ScarInput(image=image, myocardium=wall, grid=grid), basal_check=False)
    assert np.array_equal(default.scar, weak) and default.info["confidence_gate"] == 0.0
    manifest["confidence_gate"] = 0.78
    default = scar_cmpunet(ScarInput(image=image, myocardium=wall, grid=grid), basal_check=False)
    assert not default.scar.any() and default.info["confidence_gate"] == 0.78
    behind_a_model = scar_cmpunet(ScarInput(image=image, myocardium=wall, grid=grid, wall_given=False),
                                  basal_check=False)
    assert behind_a_model.scar[weak].all() and behind_a_model.info["confidence_gate"] == 0.0
    import json
    from pathlib import Path
    models = Path(__file__).resolve().parent.parent / "Resources" / "Models"
    assert json.loads((models / "scar-cmpunet-emidec.json").read_text())["confidence_gate"] == 0.78
    assert "confidence_gate" not in json.loads((models / "scar-cmpunet.json").read_text())  # clean without it
    # the function itself: a 3D volume's through-plane extent is along k
    prob = np.where(weak, 0.7, 0.0).astype(np.float32)
    assert np.array_equal(unconvincing_infarct(weak, prob, (1.5, 1.5, 10.0), 0.8), weak)
    assert not unconvincing_infarct(weak, prob, (1.5, 1.5, 10.0), 0.6).any()
    column = np.zeros((30, 8, 8), bool)
    column[:21, 2:6, 2:6] = True  # 20 voxels of 1.5 mm = 30 mm along k
    assert not unconvincing_infarct(column, np.full(column.shape, 0.5, np.float32), (1.5,) * 3, 0.8).any()


def _two_ventricles(slices=5):
    """Class maps (0 background, 1 blood pool, 2 wall) of a stack where a network drew the LV and,
    joined to it through the septum, the RV as a second blood pool inside a wall."""
    shape = (slices, 120, 120)
    _, y, x = np.mgrid[:shape[0], :shape[1], :shape[2]]
    r_lv = np.hypot(y - 60, x - 45)
    r_rv = np.hypot(y - 60, x - 85)
    codes = np.zeros(shape, np.uint8)
    codes[r_rv <= 20] = 2
    codes[r_rv < 13] = 1
    codes[r_lv <= 22] = 2
    codes[r_lv < 14] = 1
    lv_wall = (r_lv <= 22) & (r_lv >= 14)
    return codes, lv_wall, r_rv < 13


def test_a_second_cavity_drawn_with_a_wall_around_it_is_not_the_lv():
    """A myocardium network drew the RV as a second LV (13 of EMIDEC's 68 training exams): the
    cavity ringed by wall is kept with all of its wall, septum included; the other cavity and
    the wall past the LV's own thickness around it go. Rings alike: nothing is removed and a
    rival is reported (the run warns and asks for the LV centre), unless a reader's point says
    which is the LV."""
    from LVScarSegLogic.deep.one_ventricle import keep_one_ventricle

    codes, lv_wall, rv_cavity = _two_ventricles()
    spacing = (8.0, 1.5, 1.5)
    # the RV cavity touches background on one side (an open ring), the LV is ringed all round
    codes[:, 60, 100:106] = 0
    codes[:, 58:63, 95:106] = np.where(codes[:, 58:63, 95:106] == 2, 0, codes[:, 58:63, 95:106])
    out, rival = keep_one_ventricle(codes, spacing, 0)
    assert not (out == 1)[rv_cavity].any() and (out == 1).sum() == (codes == 1).sum() - (codes == 1)[rv_cavity].sum()
    assert (out == 2)[lv_wall].all()
    assert (out == 2).sum() < lv_wall.sum() * 1.15
    single = codes.copy()
    single[(codes > 0) & ~lv_wall & (codes != 1)] = 0
    single[rv_cavity] = 0
    assert keep_one_ventricle(single, spacing, 0)[0] is single  # one cavity: left as it is
    closed, _, _ = _two_ventricles()
    left, rival_there = keep_one_ventricle(closed, spacing, 0)
    assert left is closed  # no ring clearly the LV's: left as it is
    assert rival_there and not rival  # ... and the run says so
    picked, _ = keep_one_ventricle(closed, spacing, 0, point_kji=(2, 60, 85))
    assert (picked == 1)[rv_cavity].all() and not (picked == 1)[:, 60, 45].any()


def test_wall_jutting_out_of_the_lv_ring_is_trimmed_in_a_stack():
    """A blob of "wall" drawn into the lung beside the lateral wall (a wide field of view) goes;
    the ring, thick or thin, stays whole; a 3D volume is left as it is."""
    from LVScarSegLogic.deep.one_ventricle import trim_outgrowths

    shape = (4, 120, 120)
    _, y, x = np.mgrid[:shape[0], :shape[1], :shape[2]]
    r = np.hypot(y - 60, x - 60)
    codes = np.zeros(shape, np.uint8)
    ring = (r >= 14) & (r <= 21)
    codes[ring] = 2
    codes[r < 14] = 1
    blob = (np.hypot(y - 60, x - 92) < 9) & ~ring
    codes[blob] = 2
    out = trim_outgrowths(codes, (8.0, 1.5, 1.5), 0)
    assert (out == 2)[ring].all() and (out == 1).sum() == (codes == 1).sum()
    far = blob & (r > 21 + 12 / 1.5)
    assert far.any() and not (out == 2)[far].any()
    assert trim_outgrowths(codes, (1.5, 1.5, 1.5), None) is codes
    plain = np.where(blob, 0, codes).astype(np.uint8)
    assert trim_outgrowths(plain, (8.0, 1.5, 1.5), 0) is plain
