"""The lvscarseg command line, end to end, as the contract describes it."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import slicerio

from LVScarSegLogic import labels as L
from LVScarSegLogic.files import sha256_of
from LVScarSegLogic.segio import read_label_codes
from LVScarSegLogic.geometry import lps_to_ras_points
from LVScarSegLogic.volume import read_volume, write_volume
from conftest import ROOT, run_cli

REPORT_KEYS = {"software", "input", "methods", "volumes_ml", "lv_mass_g", "scar_mass_g", "scar_percent",
               "grayzone_percent", "aha_segments", "warnings", "timing_s"}


def test_segment_writes_a_seg_nrrd_on_the_image_grid_and_a_contract_report(lowres_case, tmp_path):
    out, rep = tmp_path / "out.seg.nrrd", tmp_path / "report.json"
    r = run_cli("--quiet", "segment", lowres_case["image"], "--myocardium", lowres_case["label"], "-o", out,
                "--report", rep)
    assert r.code == 0, r.err
    assert "Scar (infarct)" in r.out and str(out) in r.out
    seg = slicerio.read_segmentation(str(out))
    np.testing.assert_allclose(seg["ijkToLPS"], lowres_case["grid"].ijk_to_lps, atol=1e-9, rtol=0)
    assert seg["voxels"].shape == lowres_case["grid"].size_ijk
    report = json.loads(rep.read_text())
    assert REPORT_KEYS <= set(report)
    assert report["input"]["sha256"] == sha256_of(lowres_case["image"])
    assert report["input"]["size"] == list(lowres_case["grid"].size_ijk)
    from LVScarSegLogic.methods import registry

    # the best on real data: cmpunet with PyTorch installed, ewa without
    assert report["methods"]["scar"]["name"] == registry.default_method("scar")
    assert report["methods"]["myocardium"]["name"] == "given"
    v = report["volumes_ml"]
    assert report["scar_percent"] == pytest.approx(100 * v["scar"] / v["lv_myocardium"])
    assert report["lv_mass_g"] == pytest.approx(1.05 * v["lv_myocardium"])
    truth_lv = np.isin(lowres_case["codes"], L.LV_MYOCARDIUM_CODES).sum() * lowres_case["grid"].voxel_volume_ml
    # The reader's contour is the wall: by default the output's LV myocardium is the given mask,
    # voxel for voxel, for every kind of method; growing it is opt-in and reported.
    given = np.isin(lowres_case["codes"], L.LV_MYOCARDIUM_CODES)
    default = registry.get(registry.default_method("scar"), "scar")  # cmpunet with torch, ewa without
    default_grow = "grow_wall_voxels" if any(p.name == "grow_wall_voxels" for p in default.params) else "repair_voxels"
    for method, grow in (("random-forest", "repair_voxels"), ("fwhm", "repair_voxels"), (None, default_grow)):
        args = ["--scar-method", method] if method else []
        seg_out, rep_out = tmp_path / f"k-{method}.seg.nrrd", tmp_path / f"k-{method}.json"
        assert run_cli("--quiet", "segment", lowres_case["image"], "--myocardium", lowres_case["label"], "-o",
                       seg_out, "--report", rep_out, *args).code == 0
        codes, _ = read_label_codes(seg_out, lowres_case["grid"], role="output")
        np.testing.assert_array_equal(np.isin(codes, L.LV_MYOCARDIUM_CODES), given, err_msg=str(method))
        grown = tmp_path / f"g-{method}.json"
        assert run_cli("--quiet", "segment", lowres_case["image"], "--myocardium", lowres_case["label"], "-o",
                       tmp_path / f"g-{method}.seg.nrrd", "--report", grown, "--param", f"{grow}=2", *args).code == 0
        g = json.loads(grown.read_text())
        assert g["volumes_ml"]["lv_myocardium"] >= truth_lv - 1e-9
        if g["volumes_ml"]["lv_myocardium"] > truth_lv + 1e-9:
            assert any("beyond the given myocardium" in w for w in g["warnings"])
    assert v["bloodpool"] > 0  # the coded input's blood pool is carried over
    assert set(report["timing_s"]) >= {"read_image", "scar", "write", "total"}


def test_measure_reproduces_the_true_volumes_exactly(lowres_case, tmp_path):
    r = run_cli("measure", lowres_case["image"], lowres_case["label"])
    assert r.code == 0, r.err
    report = json.loads(r.out)
    codes, v = lowres_case["codes"], lowres_case["grid"].voxel_volume_ml
    assert report["volumes_ml"]["scar"] == pytest.approx(np.isin(codes, (3, 4)).sum() * v, rel=1e-12)
    assert report["volumes_ml"]["mvo"] == pytest.approx((codes == 4).sum() * v, rel=1e-12)
    assert report["volumes_ml"]["grayzone"] == pytest.approx((codes == 5).sum() * v, rel=1e-12)
    assert report["scar_percent"] == pytest.approx(lowres_case["meta"]["truth"]["scar_percent"], rel=1e-9)


def test_evaluate_reports_every_metric_and_is_perfect_on_itself(lowres_case, tmp_path):
    r = run_cli("evaluate", lowres_case["label"], lowres_case["label"], "--json")
    assert r.code == 0, r.err
    res = json.loads(r.out)
    for structure in ("myocardium", "scar"):
        assert set(res[structure]) >= {"dice", "hd_mm", "hd95_mm", "assd_mm", "avd_ml"}
        assert res[structure]["dice"] == 1.0 and res[structure]["hd_mm"] == 0.0
    out = tmp_path / "o.seg.nrrd"
    assert run_cli("--quiet", "segment", lowres_case["image"], "--myocardium", lowres_case["label"], "-o", out,
                   "--scar-method", "fwhm").code == 0
    r = run_cli("evaluate", out, lowres_case["label"], "--json")
    res = json.loads(r.out)
    assert res["myocardium"]["dice"] > 0.99  # the given myocardium comes back unchanged
    assert 0.6 < res["scar"]["dice"] < 1.0
    table = run_cli("evaluate", out, lowres_case["label"])
    assert table.code == 0 and "HD95" in table.out and "scar" in table.out


def test_strm_with_user_remote_mask_and_fwhm_with_ras_seed(lowres_case, tmp_path):
    codes, grid = lowres_case["codes"], lowres_case["grid"]
    remote = np.zeros(codes.shape, np.uint8)
    remote[codes == L.MYOCARDIUM] = 1
    write_volume(tmp_path / "remote.nrrd", remote, grid)
    rep = tmp_path / "r.json"
    r = run_cli("--quiet", "segment", lowres_case["image"], "--myocardium", lowres_case["label"], "-o",
                tmp_path / "s.nrrd", "--scar-method", "strm", "--param", "n=4", "--remote", tmp_path / "remote.nrrd",
                "--report", rep)
    assert r.code == 0, r.err
    details = json.loads(rep.read_text())["methods"]["scar"]
    assert details["params"]["n"] == 4.0 and details["details"]["remote_source"] == "user"
    k, j, i = np.argwhere(codes == L.SCAR)[0]
    ras = lps_to_ras_points(grid.ijk_to_lps_points([[i, j, k]])[0])
    r = run_cli("--quiet", "segment", lowres_case["image"], "--myocardium", lowres_case["label"], "-o",
                tmp_path / "f.seg.nrrd", "--scar-method", "fwhm", "--seed", ",".join(f"{v:.3f}" for v in ras),
                "--report", rep)
    assert r.code == 0, r.err
    assert json.loads(rep.read_text())["methods"]["scar"]["details"]["seed_source"] == "user"


def _bad_inputs(case, tmp):
    txt = tmp / "notes.nrrd"
    txt.write_text("not an image at all\n")
    cut = tmp / "cut.nii.gz"
    write_volume(tmp / "whole.nii.gz", read_volume(case["image"]).array, case["grid"])
    data = (tmp / "whole.nii.gz").read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    import SimpleITK as sitk

    sitk.WriteImage(sitk.Image(30, 30, sitk.sitkInt16), str(tmp / "flat.nrrd"))
    sitk.WriteImage(sitk.Image([10, 10, 10], sitk.sitkVectorFloat32, 3), str(tmp / "rgb.nrrd"))
    (tmp / "emptydir").mkdir()
    from LVScarSegLogic.geometry import Grid

    far = Grid.make((4, 4, 4), (1, 1, 1), (900.0, 900.0, 900.0), np.eye(3))
    write_volume(tmp / "far.nrrd", np.ones(far.shape, np.uint8), far)
    img, lab = str(case["image"]), str(case["label"])
    return {
        "missing image": (["segment", tmp / "nope.nrrd", "--myocardium", lab], "file not found"),
        "text file posing as image": (["segment", txt, "--myocardium", lab], "not a readable image"),
        "truncated file": (["segment", cut, "--myocardium", lab], "truncated"),
        "2D image": (["segment", tmp / "flat.nrrd", "--myocardium", lab], "2D image"),
        "vector image": (["segment", tmp / "rgb.nrrd", "--myocardium", lab], "components"),
        "empty folder": (["segment", tmp / "emptydir", "--myocardium", lab], "no DICOM series"),
        "mask outside image": (["segment", img, "--myocardium", tmp / "far.nrrd"], "does not overlap"),
        "unknown method": (["segment", img, "--myocardium", lab, "--scar-method", "magic"], "unknown scar method"),
        "unknown parameter": (["segment", img, "--myocardium", lab, "--param", "k=3"], "unknown parameter"),
        "parameter out of range": (["segment", img, "--myocardium", lab, "--scar-method", "strm", "--param", "n=12"],
                                   "maximum"),
        "mask and model": (["segment", img, "--myocardium", lab, "--myocardium-method", "unet"], "either"),
        "unknown myocardium model": (["segment", img, "--myocardium-method", "resnet"], "unknown myocardium method"),
        "uncertainty of a classical method": (["segment", img, "--myocardium", lab, "--scar-method", "strm",
                                               "--uncertainty", tmp / "u.nrrd"], "deep-learning"),
        "bad seed": (["segment", img, "--myocardium", lab, "--seed", "1,2"], "R,A,S"),
        "seed outside image": (["segment", img, "--myocardium", lab, "--seed", "5000,0,0"], "outside the image"),
    }


def test_bad_input_exits_2_with_one_line_and_writes_nothing(lowres_case, tmp_path):
    for name, (args, message) in _bad_inputs(lowres_case, tmp_path).items():
        out = tmp_path / f"{name.replace(' ', '_')}.seg.nrrd"
        r = run_cli("--quiet", *args, "-o", out, "--report", tmp_path / "never.json")
        assert r.code == 2, (name, r.err)
        lines = r.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("lvscarseg: error:") and message in lines[0], (name, r.err)
        assert not out.exists() and not (tmp_path / "never.json").exists(), name
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_outputs_onto_inputs_are_refused_and_existing_outputs_survive_failures(lowres_case, tmp_path):
    img, lab = lowres_case["image"], lowres_case["label"]
    before = sha256_of(img)
    for args, message in ((["-o", img], "is an input"), (["-o", lab], "is an input"),
                          (["-o", tmp_path / "x.seg.nrrd", "--report", img], "must be a .json")):
        r = run_cli("--quiet", "segment", img, "--myocardium", lab, *args)
        assert r.code == 2 and message in r.err, r.err
    r = run_cli("--quiet", "measure", img, lab, "--report", lab)
    assert r.code == 2
    assert sha256_of(img) == before
    existing = tmp_path / "keep.seg.nrrd"
    existing.write_bytes(b"previous result")
    r = run_cli("--quiet", "segment", img, "--myocardium", lab, "-o", existing, "--scar-method", "nope")
    assert r.code == 2 and existing.read_bytes() == b"previous result"
    r = run_cli("--quiet", "segment", img, "--myocardium", lab, "-o", tmp_path / "o.txt")
    assert r.code == 2 and "output must end in" in r.err


def test_methods_json_lists_typed_parameters_and_defaults():
    r = run_cli("methods", "--json")
    assert r.code == 0
    items = json.loads(r.out)
    assert {"strm", "fwhm"} <= {m["name"] for m in items}
    for m in items:
        assert {"name", "target", "family", "params", "needs"} <= set(m)
        for p in m["params"]:
            assert {"name", "type", "default", "help"} <= set(p)
    assert sum(m["default"] for m in items if m["target"] == "scar") == 1
    text = run_cli("methods")
    from LVScarSegLogic.methods import registry

    assert text.code == 0 and "strm" in text.out and f"default: {registry.default_method('scar')}" in text.out


def test_models_lists_and_verifies_model_files(tmp_path, monkeypatch):
    weights = tmp_path / "tiny.safetensors"
    weights.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    (tmp_path / "tiny.json").write_text(json.dumps({
        "name": "tiny", "file": "tiny.safetensors", "sha256": sha256_of(weights), "license": "BSD-3-Clause",
        "trained_on": "nothing", "model_card": "tiny.md"}))
    monkeypatch.setenv("LVSCARSEG_MODELS_DIR", str(tmp_path))
    listed = json.loads(run_cli("models", "--json").out)
    assert listed[0]["name"] == "tiny" and listed[0]["verified"] is True
    assert set(listed[0]) >= {"name", "path", "sha256", "verified", "license", "trained_on", "model_card"}
    weights.write_bytes(b"tampered")
    assert json.loads(run_cli("models", "--json").out)[0]["verified"] is False
    monkeypatch.setenv("LVSCARSEG_MODELS_DIR", str(tmp_path / "absent"))
    assert run_cli("models").code == 2


def test_shipped_models_verify_have_cards_and_carry_emidec_s_license():
    """Every model in Resources/Models passes its SHA-256 check and has a card; anything trained
    on EMIDEC is CC BY-NC-SA; the "best" set (the default) takes the models that measure best on
    real scans, the "permissive" set only BSD-licensed ones."""
    from LVScarSegLogic.models import default_model_path, verified_manifest

    listed = json.loads(run_cli("models", "--json").out)
    assert len(listed) >= 15
    for m in listed:
        assert m["verified"] is True and Path(m["model_card"]).is_file(), m["name"]
        emidec = "EMIDEC" in m["trained_on"] or "-emidec" in m["name"]
        assert (m["license"] == "CC-BY-NC-SA-4.0") == emidec, m["name"]
        assert "EMIDEC" in Path(m["model_card"]).read_text() or not emidec, m["name"]
    for task in ("lv-localizer", "myocardium-cmpunet", "scar-cmpunet"):
        assert verified_manifest(default_model_path(task, "permissive"))["license"] == "BSD-3-Clause", task
        assert default_model_path(task).name == f"{task}-emidec.safetensors", task
    by_name = {m["name"]: m for m in listed}
    assert by_name["myocardium-cmpunet-emidec"]["default_in"] == ["best"]
    assert by_name["myocardium-cmpunet-synth"]["default_in"] == ["permissive"]
    assert by_name["myocardium-cmpunet-synth"]["permissive"] and by_name["myocardium-cmpunet"]["default_in"] == []
    assert by_name["myocardium-unet"]["default_in"] == ["best", "permissive"]
    assert run_cli("segment", "x.nrrd", "-o", "y.seg.nrrd", "--models", "free").code == 2


def test_phantom_command_writes_images_labels_and_manifest(tmp_path):
    r = run_cli("--quiet", "phantom", tmp_path / "ph", "--cases", "2", "--seed", "4", "--protocol", "3d-lowres")
    assert r.code == 0, r.err
    manifest = json.loads((tmp_path / "ph" / "phantom.json").read_text())
    assert len(manifest["cases"]) == 2
    for c in manifest["cases"]:
        img = read_volume(tmp_path / "ph" / c["image"])
        lab = read_volume(tmp_path / "ph" / c["label"])
        assert img.grid.same_as(lab.grid) and lab.array.dtype == np.uint8
        assert c["truth"]["lv_myocardium_ml"] == pytest.approx(
            np.isin(lab.array, (2, 3, 4, 5)).sum() * lab.grid.voxel_volume_ml)
    assert run_cli("phantom", tmp_path / "x", "--cases", "0").code == 2
    assert run_cli("phantom", tmp_path / "x", "--protocol", "mri").code == 2


def test_demo_writes_a_segmentation_and_prints_measurements(tmp_path):
    r = run_cli("--quiet", "demo", tmp_path / "demo")
    assert r.code == 0, r.err
    assert "Scar (infarct)" in r.out and "Scar Dice" in r.out
    assert (tmp_path / "demo" / "phantom_lge.seg.nrrd").exists()
    assert json.loads((tmp_path / "demo" / "phantom_lge_report.json").read_text())["scar_percent"] > 0


def _python(code, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, **kw)


def test_classical_segment_imports_no_torch_monai_slicer_qt_or_vtk(lowres_case, tmp_path):
    code = (
        "import sys\n"
        "from LVScarSegLogic.cli import main\n"
        f"rc = main(['--quiet', 'segment', r'{lowres_case['image']}', '--myocardium', r'{lowres_case['label']}',"
        f" '--scar-method', 'random-forest', '-o', r'{tmp_path / 'o.seg.nrrd'}'])\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'monai', 'slicer', 'qt', 'vtk', 'PySide6'})\n"
        "print(rc, heavy)\n"
    )
    r = _python(code)
    assert r.stdout.strip().splitlines()[-1] == "0 []", r.stderr
    r = _python("import sys, LVScarSegLogic; print(sorted(m for m in sys.modules if m.startswith(('numpy', 'SimpleITK', 'scipy'))))")
    assert r.stdout.strip() == "[]"  # importing the package is free
    # Listing methods (the GUI's combo boxes) reads each method's declaration from its own module:
    # numpy (which Slicer always has) is the only import it costs, scipy comes when a method runs.
    r = _python("import sys\nfrom LVScarSegLogic.methods import registry\nregistry.methods()\n"
                "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'SimpleITK', 'torch', 'monai', "
                "'skimage', 'PIL', 'pydicom'}))")
    assert r.stdout.strip() == "[]", r.stderr


def test_module_entry_point_exit_codes_and_progress_lines(lowres_case, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "LVScarSegLogic", "segment", str(lowres_case["image"]),
                        "--myocardium", str(lowres_case["label"]), "-o", str(tmp_path / "o.seg.nrrd")],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    progress = [ln for ln in r.stderr.splitlines() if ln.startswith("PROGRESS ")]
    assert progress and progress[-1].split()[1] == "100"
    percents = [int(ln.split()[1]) for ln in progress]
    assert percents == sorted(percents) and len(set(percents)) > 3  # it advances, never backwards
    r = subprocess.run([sys.executable, "-m", "LVScarSegLogic", "segment"], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


def test_sigterm_mid_run_leaves_no_output_and_no_partial_files(tmp_path):
    """The Slicer module's Cancel terminates the process: nothing may be left behind."""
    import signal
    import time

    from LVScarSegLogic.geometry import Grid

    grid = Grid.make((120, 256, 256), (0.625, 0.625, 1.3), (0, 0, 0), np.eye(3))
    z, y, x = np.mgrid[:120, :256, :256]
    r = np.hypot(x - 128, y - 128)
    wall = ((r > 40) & (r < 55) & (z > 10) & (z < 110)).astype(np.uint8)
    image = (np.random.default_rng(0).normal(100, 20, grid.shape) + 800.0 * wall * (x > 128)).astype(np.int16)
    write_volume(tmp_path / "img.nrrd", image, grid)
    write_volume(tmp_path / "myo.nrrd", wall, grid)
    out, rep = tmp_path / "out.seg.nrrd", tmp_path / "rep.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "LVScarSegLogic", "--quiet", "segment", str(tmp_path / "img.nrrd"),
                             "--myocardium", str(tmp_path / "myo.nrrd"), "--scar-method", "levelset",
                             "--param", "iterations=500", "-o", str(out), "--report", str(rep)],
                            env=env, stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "terminated" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.nrrd", "myo.nrrd"]


def test_progress_never_goes_backwards():
    """A later stage reporting its own 0-1 range (a scar method after the myocardium model) does
    not move the bar back."""
    import io

    from LVScarSegLogic.progress import Progress

    out = io.StringIO()
    p = Progress(out)
    for f in (0.1, 0.5, 0.2, 0.6):
        p(f, "step")
    assert [int(ln.split()[1]) for ln in out.getvalue().splitlines()] == [10, 50, 50, 60]


def test_segment_argv_round_trips_through_the_cli_parser():
    """The one builder of ``segment`` command lines (batch, the Slicer module) says what it was given."""
    from LVScarSegLogic.argv import segment_argv
    from LVScarSegLogic.cli.parser import build_parser, join_point_values

    argv = segment_argv("i.nrrd", "o.seg.nrrd", report="r.json", qa="q.png", bullseye="b.png", remote="rm.nrrd",
                        scar_method="strm", myocardium_method="cmpunet", params={"n": 4.0, "endo_guard": False},
                        seeds_ras=[(-1.5, 2, 3e-7)], rv_insertion_ras=[(4, -5, 6)], lv_center_ras=(-7, 8, -9),
                        device="cpu", models="permissive", quiet=True)
    a = build_parser().parse_args(join_point_values(argv))
    assert (a.command, a.image, a.output, a.report, a.qa, a.bullseye, a.remote) == \
        ("segment", "i.nrrd", "o.seg.nrrd", "r.json", "q.png", "b.png", "rm.nrrd")
    assert (a.scar_method, a.myocardium_method, a.device, a.models, a.quiet) == ("strm", "cmpunet", "cpu", "permissive", True)
    assert a.param == ["n=4.0", "endo_guard=false"]
    assert a.seed == ["-1.5,2,3e-07"] and a.rv_insertion == ["4,-5,6"] and a.lv_center == "-7,8,-9"
    given = build_parser().parse_args(segment_argv("i.nrrd", "o.nrrd", myocardium="m.nrrd", myocardium_method="cmpunet",
                                                   lv_center_ras=(1, 2, 3)))
    assert given.myocardium == "m.nrrd" and given.myocardium_method is None and given.lv_center is None
