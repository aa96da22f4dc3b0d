"""The synthetic LGE phantom: deterministic, anatomically plausible, with truthful labels."""
import numpy as np
from scipy import ndimage as ndi
import pytest

from LVScarSegLogic import labels as L
from LVScarSegLogic.phantom.cases import make_case

TERRITORY_SEGMENTS = {"LAD": {1, 2, 7, 8, 13, 14, 17}, "RCA": {3, 4, 9, 10, 15}, "LCx": {5, 6, 11, 12, 16}}


def test_same_seed_gives_identical_cases_and_another_index_differs():
    a = make_case(3, 0, "3d-lowres")
    b = make_case(3, 0, "3d-lowres")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2].same_as(b[2])
    c = make_case(3, 1, "3d-lowres")
    assert not np.array_equal(a[1], c[1])


def test_signal_levels_and_anatomy_are_in_the_published_ranges(lowres_case):
    image, codes, grid, meta = (lowres_case[k] for k in ("array", "codes", "grid", "meta"))
    med = {c: float(np.median(image[codes == c])) for c in (1, 2, 3)}
    assert 0.4 < med[1] / med[3] < 0.95  # blood 0.55-0.8 of scar, blurred by bias and partial volume
    assert med[2] < 0.3 * med[3]  # nulled remote myocardium
    truth = meta["truth"]
    assert 50 < truth["lv_myocardium_ml"] * 1.05 < 220  # LV mass (g)
    assert 40 < truth["bloodpool_ml"] < 250
    assert truth["scar_ml"] > 0 and truth["grayzone_ml"] > 0
    assert set(np.unique(codes)) <= {0, 1, 2, 3, 4, 5}


def test_wall_is_thinner_at_the_apex_and_over_transmural_scar():
    from LVScarSegLogic.phantom.anatomy import Heart, HeartParams, ScarParams

    scar = ScarParams("LAD", 20.0, 0.5, 40.0, 0.3, 1.0, 2.0, 0.0, False)
    heart = Heart(HeartParams(scars=[scar], seed=1))
    # Sample a radial ray at the scar centre and on the healthy opposite wall (mid level),
    # and along the long axis at the apex.
    def wall_mm(alpha, u):
        z = -u * heart.p.apex_depth
        theta = np.deg2rad(90.0 - alpha)
        r = np.arange(0, 60, 0.05)
        pts = np.stack([r * np.cos(theta), r * np.sin(theta), np.full_like(r, z)], axis=1)
        t = heart.tissues(pts)
        return np.isin(t, (12, 13, 14, 15)).sum() * 0.05
    z = np.arange(-120, 0, 0.05)
    apex = heart.tissues(np.stack([np.zeros_like(z), np.zeros_like(z), z], axis=1))
    apical_wall = np.isin(apex, (12, 13, 14, 15)).sum() * 0.05
    healthy, scarred = wall_mm(200.0, 0.5), wall_mm(20.0, 0.5)
    assert 6.0 <= healthy <= 10.5
    assert scarred < 0.8 * healthy
    assert apical_wall < 0.75 * healthy


def test_scars_land_in_their_coronary_territory():
    checked = 0
    for index in range(12):
        if index % 5 == 4:
            continue
        _, _, _, meta = make_case(11, index, "3d-lowres")
        if len(meta["scars"]) != 1:
            continue
        segs = meta["truth"]["aha_segments"]
        total = sum(s["scar_ml"] for s in segs.values())
        inside = sum(s["scar_ml"] for k, s in segs.items() if int(k) in TERRITORY_SEGMENTS[meta["scars"][0]["territory"]])
        assert total > 0 and inside / total >= 0.6, (index, meta["scars"][0])
        checked += 1
    assert checked >= 3


def test_healthy_case_has_no_scar(healthy_case):
    assert not np.isin(healthy_case["codes"], L.INFARCT_CODES + (L.GRAYZONE,)).any()
    assert (healthy_case["codes"] == L.MYOCARDIUM).sum() > 1000


def test_2d_stack_is_a_short_axis_stack_with_thick_slices():
    image, codes, grid, meta = make_case(5, 2, "2d-stack")
    assert grid.spacing[2] >= 8.0 and grid.spacing[0] == 1.4 and grid.shape[0] == 12
    long_axis = np.array(meta["heart_axes_lps"][2])
    normal = grid.direction_matrix[:, 2]
    assert abs(normal @ long_axis) > np.cos(np.deg2rad(12))
    assert meta["hard"] is True and meta["cnr"] < 8.0
    assert (codes == L.MYOCARDIUM).any(axis=(1, 2)).sum() >= 6  # the LV spans most slices


def test_large_field_of_view_has_the_heart_as_a_small_part():
    image, codes, grid, meta = make_case(5, 3, "large-fov")
    fraction = np.isin(codes, L.LV_MYOCARDIUM_CODES).mean()
    assert fraction < 0.01
    assert grid.size_ijk == (256, 256, 200)
    assert abs(np.linalg.det(grid.direction_matrix) - 1.0) < 1e-9
    air = image[:, :8, :8].astype(float)  # corners of the field of view: air outside the body
    assert air.mean() == pytest.approx(np.sqrt(np.pi / 2) * meta["sigma"], rel=0.15)  # Rayleigh mean


def test_second_style_draws_lge_from_a_given_label_map():
    """phantom/from_labels.py: an image from someone else's label map (here a ring with an
    infarct), the same seed giving the same image; "lge" keeps the LGE order on average (infarct
    brighter than the nulled wall), "random" also gives blood darker than the wall; the labels
    are only read."""
    from LVScarSegLogic import labels as L
    from LVScarSegLogic.phantom.from_labels import lge_from_labels

    k, j, i = np.mgrid[:4, :64, :64]
    r, angle = np.hypot(j - 32, i - 32), np.arctan2(j - 32, i - 32)
    codes = np.where(r < 9, L.BLOODPOOL, np.where(r < 15, L.MYOCARDIUM, 0)).astype(np.uint8)
    codes[(codes == L.MYOCARDIUM) & (angle > 0) & (angle < 1.2)] = L.SCAR
    before = codes.copy()
    a, info = lge_from_labels(codes, (10.0, 1.5, 1.5), seed=3)
    b, _ = lge_from_labels(codes, (10.0, 1.5, 1.5), seed=3)
    assert np.array_equal(codes, before) and a.dtype == np.int16 and a.shape == codes.shape
    assert np.array_equal(a, b) and not np.array_equal(a, lge_from_labels(codes, (10.0, 1.5, 1.5), seed=4)[0])
    assert info["style"] == "lge" and 3.0 <= info["cnr"] <= 12.0
    inner = ndi.binary_erosion(codes == L.SCAR, np.ones((1, 3, 3), bool))
    healthy = ndi.binary_erosion(codes == L.MYOCARDIUM, np.ones((1, 3, 3), bool))
    for seed in range(5):
        img = lge_from_labels(codes, (10.0, 1.5, 1.5), seed=seed)[0].astype(float)
        assert img[inner].mean() > img[healthy].mean() * 1.5
    darker = [lge_from_labels(codes, (10.0, 1.5, 1.5), seed=s, style="random")[0].astype(float) for s in range(12)]
    blood = codes == L.BLOODPOOL
    assert any(d[blood].mean() < d[healthy].mean() for d in darker)
    with pytest.raises(ValueError, match="style"):
        lge_from_labels(codes, (10.0, 1.5, 1.5), seed=0, style="ct")
    # a cleaner scanner: the contrast-to-noise drawn from the range asked for, the default's draws unchanged
    assert np.array_equal(a, lge_from_labels(codes, (10.0, 1.5, 1.5), seed=3, cnr_range=(3.0, 12.0))[0])
    clean, clean_info = lge_from_labels(codes, (10.0, 1.5, 1.5), seed=3, cnr_range=(40.0, 40.0))
    assert clean_info["cnr"] == 40.0
    air = codes == 0
    assert clean[air].std() / clean[inner].mean() < a[air].std() / a[inner].mean()
    with pytest.raises(ValueError, match="cnr_range"):
        lge_from_labels(codes, (10.0, 1.5, 1.5), seed=0, cnr_range=(12.0, 3.0))
