"""Cohort and agreement tools: batch (per-case outputs, summary.csv, failures recorded, resume after
a kill), compare (per-method %, STAPLE consensus, agreement map, sensitivity band) and evaluate's
per-AHA-segment differences."""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT, run_cli


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    d = tmp_path_factory.mktemp("cohort")
    assert run_cli("--quiet", "phantom", d, "--cases", "4", "--seed", "12", "--protocol", "3d-lowres").code == 0
    (d / "images" / "broken.nrrd").write_text("not an image\n")
    shutil.copy(d / "labels" / "case_000.nrrd", d / "labels" / "broken.nrrd")
    return d


def _batch(cohort, out, *extra):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "LVScarSegLogic", "--quiet", "batch", str(cohort), "-o", str(out),
                             "--myocardium-dir", str(cohort / "labels"), "--scar-method", "strm", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)


def test_batch_outputs_summary_failures_and_resume_after_kill(cohort, tmp_path):
    out = tmp_path / "out"
    p = _batch(cohort, out)
    # finished as the batch counts it: all three outputs written (the QA picture alone can be
    # there while the case's last output is still being written)
    finished_now = lambda: {f.name[: -len("_qa.png")] for f in out.glob("*_qa.png")  # noqa: E731
                            if all((out / f.name.replace("_qa.png", ext)).exists() for ext in (".seg.nrrd", ".json"))}
    deadline = time.time() + 120
    while time.time() < deadline and len(finished_now()) < 2:
        time.sleep(0.1)
    os.killpg(p.pid, signal.SIGKILL)  # the batch and the case it is running, mid-way
    p.wait()
    finished = finished_now()
    assert 2 <= len(finished) < 4
    stamps = {n: (out / f"{n}.seg.nrrd").stat().st_mtime_ns for n in finished if (out / f"{n}.seg.nrrd").exists()}
    p = _batch(cohort, out, "--jobs", "2")
    stdout, stderr = p.communicate(timeout=300)
    assert p.returncode == 1, stderr  # the broken case fails; the others are done
    assert f"{5 - len(finished)} processed, {len(finished)} already finished" in stdout
    for n, stamp in stamps.items():
        assert (out / f"{n}.seg.nrrd").stat().st_mtime_ns == stamp  # finished cases were not redone
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [r["case"] for r in rows] == ["broken", "case_000", "case_001", "case_002", "case_003"]
    broken = rows[0]
    assert broken["status"] == "failed" and "broken.nrrd" in broken["error"]
    for r in rows[1:]:
        assert r["status"] == "done" and r["scar_method"] == "strm" and float(r["lv_myocardium_ml"]) > 20
        assert (out / f"{r['case']}.json").exists() and (out / f"{r['case']}_qa.png").exists()
    assert not list(out.glob(".*partial*"))


def test_compare_methods_consensus_agreement_and_sensitivity(lowres_case, tmp_path):
    out, agree, rep = tmp_path / "c.seg.nrrd", tmp_path / "agree.nrrd", tmp_path / "c.json"
    r = run_cli("--quiet", "compare", lowres_case["image"], "--myocardium", lowres_case["label"], "--methods",
                "strm,fwhm,gmm", "-o", out, "--agreement", agree, "--report", rep)
    assert r.code == 0, r.err
    res = json.loads(rep.read_text())
    assert [m["method"] for m in res["methods"]] == ["strm", "fwhm", "gmm"]
    pcts = [m["scar_percent"] for m in res["methods"]]
    lo, hi = res["agreement"]["scar_percent_range"]
    assert lo == min(pcts) and hi == max(pcts)
    assert lo - 1.0 <= res["consensus"]["scar_percent"] <= hi + 1.0  # STAPLE lies among the methods
    band = res["sensitivity"]
    assert len(band["runs"]) == 8
    strm = [b["scar_percent"] for b in band["runs"] if b["method"] == "strm"]
    assert strm == sorted(strm, reverse=True)  # a higher n-SD threshold never finds more scar
    from LVScarSegLogic.volume import read_volume

    a = read_volume(agree)
    assert a.grid.same_as(lowres_case["grid"]) and a.array.max() <= 3
    truth_inf = np.isin(lowres_case["codes"], (3, 4))
    assert (a.array[truth_inf] >= 2).mean() > 0.6  # the methods mostly agree inside the true scar
    r = run_cli("--quiet", "compare", lowres_case["image"], "--myocardium", lowres_case["label"], "--methods", "strm")
    assert r.code == 2 and "at least two" in r.err


def test_evaluate_reports_per_aha_segment_differences(lowres_case, tmp_path):
    from LVScarSegLogic.volume import write_volume

    codes = lowres_case["codes"].copy()
    codes[codes == 3] = 2  # a prediction that misses every scar voxel
    pred = tmp_path / "pred.nrrd"
    write_volume(pred, codes, lowres_case["grid"])
    r = run_cli("evaluate", pred, lowres_case["label"], "--image", lowres_case["image"], "--json")
    assert r.code == 0, r.err
    res = json.loads(r.out)
    segs = res["aha_segments"]
    assert len(segs) == 17 and res["lv_frame"]["septum_from"] == "image"
    for s in segs:
        assert s["prediction_scar_percent"] <= s["reference_scar_percent"] + 1e-9
        assert s["scar_percent_difference"] == pytest.approx(s["prediction_scar_percent"] - s["reference_scar_percent"])
    assert min(s["scar_percent_difference"] for s in segs) < -5.0


def test_evaluate_an_empty_prediction_gives_zero_segments_not_a_crash(lowres_case, tmp_path):
    from LVScarSegLogic.volume import write_volume

    empty = tmp_path / "empty.nrrd"
    write_volume(empty, np.zeros_like(lowres_case["codes"]), lowres_case["grid"])
    r = run_cli("evaluate", empty, lowres_case["label"], "--json")
    assert r.code == 0, r.err
    segs = json.loads(r.out)["aha_segments"]
    assert len(segs) == 17 and all(s["prediction_scar_percent"] == 0 for s in segs)


def test_batch_pairs_masks_by_common_suffixes_and_stops_before_starting_on_missing_ones(cohort, tmp_path):
    """case.nrrd pairs with case_myo.nrrd / CASE_Myocardium.seg.nrrd; a case without a mask stops
    the batch before any case runs (exit 2 listing it), unless --auto-missing."""
    from LVScarSegLogic.batch import _mask_for

    masks = tmp_path / "masks"
    masks.mkdir()
    for name in ("case_000_myo.nrrd", "CASE_001_Myocardium.seg.nrrd", "case_002.nrrd", "case_002_myo.nrrd"):
        (masks / name).write_bytes(b"")
    images = cohort / "images"
    assert _mask_for(images / "case_000.nrrd", masks).name == "case_000_myo.nrrd"
    assert _mask_for(images / "case_001.nrrd", masks).name == "CASE_001_Myocardium.seg.nrrd"
    assert _mask_for(images / "case_002.nrrd", masks).name == "case_002.nrrd"  # the exact name first
    assert _mask_for(images / "case_003.nrrd", masks) is None
    out = tmp_path / "out"
    r = run_cli("--quiet", "batch", cohort, "-o", out, "--myocardium-dir", masks, "--scar-method", "strm")
    assert r.code == 2 and "no mask for 2 of 5 cases: broken, case_003" in r.err and "--auto-missing" in r.err
    assert not list(out.glob("*.seg.nrrd"))


def test_a_cohort_split_over_machines_gives_the_summary_of_one_run(tmp_path):
    """batch --num-parts 3 --part-id K as three processes (a job array) into one folder, then
    --summarize: the same summary.csv (but for the seconds) as one run; parts are disjoint and cover all."""
    data = tmp_path / "cohort9"
    assert run_cli("--quiet", "phantom", data, "--cases", "9", "--seed", "31", "--protocol", "3d-lowres").code == 0
    one, split = tmp_path / "one", tmp_path / "split"
    common = ["--myocardium-dir", str(data / "labels"), "--scar-method", "otsu", "--jobs", "1"]
    r = run_cli("--quiet", "batch", data, "-o", one, *common)
    assert r.code == 0, r.err
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    parts = [subprocess.Popen([sys.executable, "-m", "LVScarSegLogic", "--quiet", "batch", str(data), "-o", str(split),
                               *common, "--num-parts", "3", "--part-id", str(k)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(3)]
    assert [p.wait() for p in parts] == [0, 0, 0], [p.stderr.read() for p in parts]
    part_cases = [[row["case"] for row in csv.DictReader(open(split / f"summary.part{k}-of-3.csv"))] for k in range(3)]
    assert sorted(sum(part_cases, [])) == [f"case_{i:03d}" for i in range(9)] and all(len(c) == 3 for c in part_cases)
    r = run_cli("--quiet", "batch", "--summarize", split)
    assert r.code == 0, r.err

    def rows(folder):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(open(folder / "summary.csv"))]
    assert rows(split) == rows(one)
    assert run_cli("--quiet", "batch", data, "-o", split, *common, "--num-parts", "3", "--part-id", "3").code == 2
