"""The quality verdict: a result the engine cannot vouch for is marked (report, exit code 3,
banner on the pictures, batch summary), never printed as a confident number."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_cli
from LVScarSegLogic import labels as L
from LVScarSegLogic import quality
from LVScarSegLogic.volume import read_volume, write_volume


def test_true_phantom_walls_are_ok_and_broken_walls_are_not(lowres_case):
    """The truth of a phantom passes; a speck of wall fails; a wall cut open on every level, or a
    solid disc (no cavity), is no LV ring; a model's doubt makes an automatic result uncertain."""
    from LVScarSegLogic import aha

    codes, grid = lowres_case["codes"], lowres_case["grid"]
    frame = aha.lv_frame(codes, grid)
    assert quality.assess(codes, grid, True, frame=frame) == {"status": "ok", "reasons": []}
    speck = np.zeros_like(codes)
    k, j, i = (int(np.mean(a)) for a in np.nonzero(L.lv_myocardium(codes)))
    speck[k, j:j + 2, i:i + 2] = L.MYOCARDIUM
    v = quality.assess(speck, grid, False)
    assert v["status"] == "failed" and "far below any human LV" in v["reasons"][0]
    # half of the ring removed on every level: a C, not an O
    wall = L.lv_myocardium(codes)
    pts = grid.ijk_to_lps_points(np.stack(np.nonzero(wall)[::-1], 1))
    _, phi = frame.coordinates(pts)
    cut = codes.copy()
    kk, jj, ii = np.nonzero(wall)
    half = phi < 180
    cut[kk[half], jj[half], ii[half]] = L.BACKGROUND
    v = quality.assess(cut, grid, False, frame=frame)
    assert v["status"] == "failed" and any("closed ring" in r for r in v["reasons"])
    assert quality.assess(cut, grid, True, frame=frame)["status"] == "uncertain"  # the reader's own wall
    doubt = ["the LV found does not look like an LV to the cmpunet myocardium model (score 0.52)"]
    v = quality.assess(codes, grid, False, doubt, frame=frame)
    assert v["status"] == "uncertain" and "--lv-center" in v["reasons"][0]
    assert quality.banner(v).startswith("UNCERTAIN") and quality.banner({"status": "ok"}) == ""


def test_wall_thickness_is_measured_in_millimetres():
    """A ring 8 voxels thick at 1 mm, in 3D and as a 10 mm stack: about 8 mm either way."""
    z, y, x = np.mgrid[:12, :80, :80]
    r = np.hypot(x - 40, y - 40)
    ring = (r >= 20) & (r < 28)
    assert quality.wall_thickness_mm(ring, (1.0, 1.0, 1.0)) == pytest.approx(8.0, abs=1.0)
    assert quality.wall_thickness_mm(ring, (1.0, 1.0, 10.0)) == pytest.approx(8.0, abs=1.0)


def test_a_failed_result_is_written_with_exit_code_3_and_a_banner(lowres_case, tmp_path):
    """measure of a segmentation that is no LV: the report and pictures are written, the summary
    and stderr say FAILED, the exit code is 3 and the QA picture carries a red banner."""
    from PIL import Image

    grid = lowres_case["grid"]
    codes = np.zeros(grid.shape, np.uint8)
    k, j, i = (int(np.mean(a)) for a in np.nonzero(L.lv_myocardium(lowres_case["codes"])))
    codes[k - 1:k + 2, j - 3:j + 3, i - 3:i + 3] = L.MYOCARDIUM
    seg = tmp_path / "tiny.nrrd"
    write_volume(seg, codes, grid)
    rep, qa = tmp_path / "r.json", tmp_path / "qa.png"
    r = run_cli("measure", lowres_case["image"], seg, "--report", rep, "--qa", qa)
    assert r.code == 3, r.err
    report = json.loads(rep.read_text())
    assert report["quality"]["status"] == "failed" and "QUALITY FAILED" in r.out and "quality failed" in r.err
    pixels = np.asarray(Image.open(qa).convert("RGB"))
    top = pixels[: pixels.shape[0] // 8].reshape(-1, 3).astype(int)
    assert ((top[:, 0] > 170) & (top[:, 1] < 40) & (top[:, 2] < 40)).sum() > 500  # the red band
    ok = run_cli("measure", lowres_case["image"], lowres_case["label"], "--report", tmp_path / "ok.json")
    assert ok.code == 0 and json.loads((tmp_path / "ok.json").read_text())["quality"]["status"] == "ok"


def test_a_label_map_given_as_the_image_is_refused(lowres_case, tmp_path):
    lab = read_volume(lowres_case["label"])
    as_image = tmp_path / "labels-as-image.nrrd"
    write_volume(as_image, lab.array.astype(np.int16), lab.grid)
    out = tmp_path / "o.seg.nrrd"
    r = run_cli("--quiet", "segment", as_image, "--myocardium", lowres_case["label"], "-o", out,
                "--scar-method", "otsu")
    assert r.code == 2 and "looks like a label map" in r.err and not out.exists()
    from LVScarSegLogic.pipeline import label_map_values

    assert label_map_values(read_volume(lowres_case["image"]).array) is None
    assert label_map_values(np.array([0.0, 1.5, 2.0])) is None  # not whole numbers


def test_pictures_show_only_what_was_measured(tmp_path, monkeypatch):
    """A sparse stack: the QA montage shows its acquired slices, named by their position along the
    LV; AHA segments the stack does not reach are "no data" in the bull's-eye, not 0 %."""
    from LVScarSegLogic import aha, pictures
    from LVScarSegLogic.phantom.cases import make_case

    image, codes, grid, _ = make_case(21, 2, "2d-stack")
    keep = slice(3, 6)  # three adjacent slices of a 12-slice stack: mid-ventricle only
    from LVScarSegLogic.geometry import Grid

    origin = grid.ijk_to_lps_points([[0, 0, keep.start]])[0]
    sparse = Grid.make(codes[keep].shape, grid.spacing, origin, grid.direction_matrix)
    frame = aha.lv_frame(codes[keep], sparse, image[keep])
    rows = aha.segment_table(codes[keep], sparse, frame)
    empty = [r["segment"] for r in rows if r["myocardium_ml"] == 0]
    assert empty  # the stack misses some levels
    seen = []
    monkeypatch.setattr(pictures, "_montage", lambda plt, img, c, chosen, names, *a, **k: seen.extend(names))
    pictures.draw_qa(image[keep], codes[keep], sparse.spacing, tmp_path / "qa.png", grid=sparse, frame=frame)
    assert len(seen) == 3 and all(n.startswith("slice ") and "mm from base" in n for n in seen)
    assert len(set(seen)) == 3  # no duplicated planes
    by_seg = {r["segment"]: r for r in rows}
    assert pictures._segment_value(by_seg, empty[0], "scar_percent")[1] is False
    monkeypatch.undo()
    pictures.draw_bullseye(rows, tmp_path / "be.png")
    assert (tmp_path / "be.png").stat().st_size > 1000


def test_a_mask_from_another_scan_is_refused_unless_forced(lowres_case, tmp_path):
    """Turned axes or labels outside the image: exit 2 naming the reason, --force uses it (warned,
    uncertain); the same labels stored with a flipped axis belong and are used exactly."""
    from LVScarSegLogic.geometry import Grid
    from LVScarSegLogic.segio import mismatch

    lab = read_volume(lowres_case["label"])
    g = lab.grid
    turn = np.radians(20.0)
    rot = np.array([[np.cos(turn), -np.sin(turn), 0], [np.sin(turn), np.cos(turn), 0], [0, 0, 1.0]])
    other = tmp_path / "other.nrrd"
    write_volume(other, lab.array, Grid.make(g.shape, g.spacing, g.origin, rot @ np.asarray(g.direction_matrix)))
    out = tmp_path / "o.seg.nrrd"
    args = ["--quiet", "segment", lowres_case["image"], "-o", out, "--scar-method", "otsu", "--report", tmp_path / "r.json"]
    r = run_cli(*args, "--myocardium", other)
    assert r.code == 2 and "does not belong to this image" in r.err and "turned 20 degrees" in r.err
    assert not out.exists()
    forced = run_cli(*args, "--myocardium", other, "--force")
    assert forced.code in (0, 3), forced.err
    assert json.loads((tmp_path / "r.json").read_text())["quality"]["status"] != "ok"
    shifted = Grid.make(g.shape, g.spacing, np.asarray(g.origin) + 40.0 * np.asarray(g.direction_matrix)[:, 0],
                        g.direction_matrix)
    assert "outside the image" in mismatch(lab.array, shifted, g)
    d = np.asarray(g.direction_matrix).copy()
    d[:, 0] *= -1
    flipped = Grid.make(g.shape, g.spacing, g.ijk_to_lps_points([[g.shape[2] - 1, 0, 0]])[0], d)
    assert mismatch(lab.array[:, :, ::-1], flipped, g) is None


def test_grid_differences_are_named():
    """A resampled mask's warning says what differs (not two identical-looking grid summaries)."""
    from LVScarSegLogic.geometry import Grid

    a = Grid.make((4, 5, 6), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), np.eye(3))
    assert a.differences(a) == "the same grid"
    shifted = Grid.make((4, 5, 6), (1.0, 1.0, 2.0), (3.0, 4.0, 0.0), np.eye(3))
    assert a.differences(shifted) == "origin 5.0 mm apart"
    t = np.radians(10.0)
    turned = Grid.make((4, 5, 7), (1.0, 1.0, 2.5), (0.0, 0.0, 0.0),
                       [[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    text = a.differences(turned)
    assert "size 6x5x4 vs 7x5x4" in text and "spacing 1x1x2 vs 1x1x2.5 mm" in text and "10.0 degrees" in text
