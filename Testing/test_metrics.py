"""Metrics against cases with known answers."""
import numpy as np
import pytest

from LVScarSegLogic import labels as L
from LVScarSegLogic.metrics import compare_masks, dice, evaluate_codes


def _cube(shape, lo, size):
    m = np.zeros(shape, dtype=bool)
    m[lo[0]:lo[0] + size, lo[1]:lo[1] + size, lo[2]:lo[2] + size] = True
    return m


def test_shifted_cubes_have_the_known_dice_and_hausdorff():
    a = _cube((30, 30, 30), (5, 5, 5), 10)
    b = _cube((30, 30, 30), (5, 5, 8), 10)  # shifted 3 voxels along i
    spacing = (2.0, 1.0, 1.0)  # i, j, k mm: the shift is 6 mm
    m = compare_masks(a, b, spacing)
    assert m["dice"] == pytest.approx(2 * 7 / 20)
    assert m["hd_mm"] == pytest.approx(6.0)
    assert m["avd_ml"] == 0.0
    assert 0 < m["assd_mm"] < m["hd95_mm"] <= m["hd_mm"]


def test_concentric_spheres_distance_is_the_radius_difference():
    z, y, x = np.mgrid[:61, :61, :61]
    r = np.sqrt((x - 30) ** 2 + (y - 30) ** 2 + (z - 30) ** 2)
    inner, outer = r <= 15, r <= 20
    m = compare_masks(inner, outer, (0.5, 0.5, 0.5))
    assert m["hd_mm"] == pytest.approx(2.5, abs=0.5)
    assert m["assd_mm"] == pytest.approx(2.5, abs=0.5)
    assert m["avd_ml"] == pytest.approx((outer.sum() - inner.sum()) * 0.125 / 1000)
    assert m["dice"] == pytest.approx(2 * inner.sum() / (inner.sum() + outer.sum()))


def test_identical_masks_are_perfect_and_empty_conventions_follow_emidec():
    a = _cube((10, 10, 10), (2, 2, 2), 4)
    m = compare_masks(a, a.copy(), (1, 1, 1))
    assert m["dice"] == 1.0 and m["hd_mm"] == 0.0 and m["hd95_mm"] == 0.0
    empty = np.zeros_like(a)
    both = compare_masks(empty, empty, (1, 1, 1))
    assert both["dice"] == 1.0 and both["hd_mm"] == 0.0
    one = compare_masks(empty, a, (1, 1, 1))
    assert one["dice"] == 0.0 and one["hd_mm"] is None and one["avd_ml"] == pytest.approx(0.064)
    assert dice(a, empty) == 0.0


def test_mask_at_the_array_border_has_a_surface():
    a = np.ones((5, 5, 5), dtype=bool)
    b = np.zeros((5, 5, 5), dtype=bool)
    b[:, :, :4] = True
    assert compare_masks(a, b, (1, 1, 1))["hd_mm"] == pytest.approx(1.0)


def test_evaluate_codes_uses_wall_and_infarct_totals():
    ref = np.zeros((8, 8, 8), dtype=np.uint8)
    ref[2:6, 2:6, 2:6] = L.MYOCARDIUM
    ref[3:5, 3:5, 3:5] = L.SCAR
    pred = ref.copy()
    pred[3, 3, 3] = L.MVO  # MVO is infarct: scar Dice unchanged
    pred[2, 2, 2] = L.GRAYZONE  # gray zone is wall: myocardium Dice unchanged
    r = evaluate_codes(pred, ref, (1, 1, 1))
    assert r["myocardium"]["dice"] == 1.0 and r["scar"]["dice"] == 1.0
    assert r["mvo"]["dice"] == 0.0
