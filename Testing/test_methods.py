"""The method registry and every classical scar method on arrays with known answers."""

import numpy as np
import pytest

from LVScarSegLogic.errors import InputError
from LVScarSegLogic.geometry import Grid
from LVScarSegLogic.methods import registry
from LVScarSegLogic.methods.base import ScarInput
from LVScarSegLogic.methods.clustering import _mean_of, _rice_fit, em_mixture, kmeans_1d
from LVScarSegLogic.methods.common_params import COMMON_NAMES
from LVScarSegLogic.methods.runner import run_scar_method
from LVScarSegLogic.methods.threshold import fwhm, otsu_threshold, strm

CLASSICAL = ["strm", "fwhm", "otsu", "region-growing", "kmeans", "gmm", "graphcut", "levelset", "ewa"]


def _dice(a, b):
    return 2 * (a & b).sum() / max(a.sum() + b.sum(), 1)


def ring(healthy=False, seed=0, noise=0.03, gray=False, mvo=False, slices=8, gray_value=0.5):
    """A thick-walled cylinder with a bright blood pool; a sector of the wall is scar."""
    rng = np.random.default_rng(seed)
    shape = (slices, 80, 80)
    z, y, x = np.mgrid[:shape[0], :shape[1], :shape[2]]
    r = np.hypot(x - 40, y - 40)
    wall = (r >= 20) & (r <= 28)
    angle = np.degrees(np.arctan2(y - 40, x - 40))
    scar = wall & (angle > 0) & (angle < 80) & (not healthy)
    image = np.full(shape, 0.3, dtype=np.float32)
    image[r < 20] = 0.7
    image[wall] = 0.1
    image[scar] = 1.0
    rim = np.zeros_like(wall)
    if gray and not healthy:
        rim = wall & (((angle > -12) & (angle <= 0)) | ((angle >= 80) & (angle < 92)))
        image[rim] = gray_value
    core = np.zeros_like(wall)
    if mvo and not healthy:
        core = scar & (r < 23.5) & (angle > 25) & (angle < 55)
        image[core] = 0.12
    image += rng.normal(0, noise, shape).astype(np.float32)
    grid = Grid.make(shape, (1.2, 1.2, 1.2), (0, 0, 0), np.eye(3))
    return image, wall, scar & ~core, grid, rim, core


def run(name, image, wall, grid, **params):
    m = registry.get(name, "scar")
    values = m.defaults()
    values.update(params)
    return run_scar_method(m, image, wall, grid, values)


def test_default_scar_method_is_the_benchmark_best_that_can_run():
    """cmpunet where PyTorch and MONAI are installed, ewa (best classical on data we did not make) where not."""
    import importlib.util

    deep = all(importlib.util.find_spec(m) is not None for m in ("torch", "monai"))
    assert registry.default_method("scar") == ("cmpunet" if deep else "ewa")


def test_registry_declares_every_classical_method_with_shared_postprocessing():
    names = [m.name for m in registry.methods("scar")]
    assert set(CLASSICAL + ["svm", "knn", "random-forest", "mlp"]) <= set(names)
    assert registry.default_method("scar") in names
    for m in registry.methods("scar"):
        own = {p.name for p in m.params}
        if m.family == "deep learning":  # the networks predict MVO and the border themselves
            assert set(COMMON_NAMES) & own == {"basal_check"}, m.name
        else:
            assert set(COMMON_NAMES) <= own, m.name
    n = registry.get("strm", "scar").param("n")
    assert (n.type, n.default, n.min, n.max) == ("float", 5.0, 2.0, 6.0)
    with pytest.raises(InputError, match="unknown scar method"):
        registry.get("nonsense", "scar")


def test_every_method_is_declared_on_the_function_that_implements_it():
    """Declarations live next to the code (a decorator per method, as MONAI registers networks):
    each method's entry is a function of the module that declared it, the order is the same in a
    fresh process that imported a method module first, and a second declaration of a name fails."""
    import subprocess
    import sys

    from conftest import ROOT
    from LVScarSegLogic.methods.declare import scar_method

    for m in registry.methods():
        module, func = m.entry.split(":")
        assert module in registry.METHOD_MODULES, m.entry
        assert callable(m.function()), m.entry
    assert registry.get("otsu", "scar").function().__name__ == "otsu"
    listed = [m.key for m in registry.methods()]
    code = ("import LVScarSegLogic.methods.deep_methods, LVScarSegLogic.methods.ewa\n"
            "from LVScarSegLogic.methods import registry\nprint(' '.join(m.key for m in registry.methods()))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.split() == listed, r.stderr
    with pytest.raises(ValueError, match="registered twice"):
        scar_method(name="otsu", family="threshold", summary="again")(lambda inp: None)


def test_the_readme_method_tables_are_the_registry():
    from conftest import ROOT
    from LVScarSegLogic.methods.table import markdown

    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- methods table:")
    start = readme.index("\n", start) + 1
    end = readme.index("<!-- end of methods table -->")
    assert readme[start:end].strip() == markdown().strip(), "run: lvscarseg methods --markdown, and paste it"
    levelset = registry.get("levelset", "scar")
    assert f"`iterations` {levelset.param('iterations').default}" in readme[start:end]  # the drift that started it


def test_param_parsing_validates_type_range_choice_and_ownership():
    sel = [registry.get("strm", "scar")]
    assert registry.resolve_params(sel, ["n=3"])["strm"]["n"] == 3.0
    assert registry.resolve_params(sel, ["strm.statistics=slice"])["strm"]["statistics"] == "slice"
    assert registry.resolve_params(sel, ["endo_guard=off"])["strm"]["endo_guard"] is False
    assert registry.resolve_params(sel, [])["strm"] == sel[0].defaults()
    for bad, msg in [("n=9", "maximum"), ("n=abc", "expected float"), ("n=1", "minimum"),
                     ("statistics=sometimes", "choose one of"), ("bogus=1", "unknown parameter"),
                     ("n", "KEY=VALUE"), ("n=nan", "expected float"), ("endo_guard=maybe", "expected bool")]:
        with pytest.raises(InputError, match=msg):
            registry.resolve_params(sel, [bad])


def test_strm_threshold_is_remote_mean_plus_n_sd_of_the_given_remote_mask():
    image, wall, scar, grid, _, _ = ring()
    remote = wall & ~scar
    res = strm(ScarInput(image=image, myocardium=wall, grid=grid, remote=remote), n=3.0, gray_n=6.0,
               statistics="volume", remote_fraction=0.25)
    values = image[remote]
    expected = values.mean() + 3.0 * values.std(ddof=1)
    assert res.info["threshold"] == pytest.approx(expected, rel=1e-5)
    np.testing.assert_array_equal(res.scar, wall & (image > expected))
    assert res.grayzone is None and res.info["remote_source"] == "user"


def test_strm_automatic_remote_avoids_the_enhanced_sector_and_reports_a_gray_zone():
    image, wall, scar, grid, rim, _ = ring(gray=True, gray_value=0.1 + 4 * 0.03)  # rim at 4 SD
    res = run("strm", image, wall, grid)
    assert res.info["remote_source"] == "automatic"
    assert res.info["remote_mean"] == pytest.approx(0.1, abs=0.01)
    assert _dice(res.scar, scar) > 0.9
    assert res.grayzone[rim].mean() > 0.3 and res.grayzone[scar].mean() < 0.05


def test_fwhm_threshold_is_half_the_region_maximum_and_user_seed_grows_only_its_region():
    image, wall, scar, grid, _, _ = ring()
    res = fwhm(ScarInput(image=image, myocardium=wall, grid=grid), fraction=0.5, gray_fraction=0.35,
               max_percentile=100.0, core_sd=5.0)
    assert res.info["threshold"] == pytest.approx(0.5 * image[scar].max(), rel=1e-6)
    assert _dice(res.scar, scar) > 0.95
    z, y, x = np.mgrid[:image.shape[0], :80, :80]
    other = wall & (np.degrees(np.arctan2(y - 40, x - 40)) < -120)
    image[other] = 1.0
    seed = (4, int(40 + 24 * np.sin(np.radians(35))), int(40 + 24 * np.cos(np.radians(35))))
    res = fwhm(ScarInput(image=image, myocardium=wall, grid=grid, seeds=[seed]), fraction=0.5, gray_fraction=0.35,
               max_percentile=100.0, core_sd=5.0)
    assert res.info["seed_source"] == "user"
    assert res.scar[scar].mean() > 0.95 and not res.scar[other].any()
    with pytest.raises(InputError, match="inside the myocardium"):
        fwhm(ScarInput(image=image, myocardium=wall, grid=grid, seeds=[(3, 40, 40)]), fraction=0.5,
             gray_fraction=0.35, max_percentile=100.0, core_sd=5.0)


def test_seeded_methods_find_a_low_contrast_scar_instead_of_reporting_none():
    """A scar only 4 SD above remote myocardium (low-contrast LGE): the automatic cores (3.5 SD
    by default) seed FWHM and region growing, and the scar is found; cores at the old 5 SD found
    none and reported no scar at all, which is the confident "0 %" a reader must never get."""
    image, wall, scar, grid, _, _ = ring(noise=0.03)
    image[scar] = 0.1 + 4.0 * 0.03 + np.random.default_rng(5).normal(0, 0.03, int(scar.sum()))
    image[~wall] = np.minimum(image[~wall], 0.15)  # dark blood and surroundings: no border guard at work
    for name in ("fwhm", "region-growing"):
        found = run(name, image, wall, grid)
        assert _dice(found.scar, scar) > 0.9, name
        assert not run(name, image, wall, grid, core_sd=5.0).scar.any(), name


def test_fwhm_maximum_ignores_fat_inside_a_contour_drawn_a_voxel_wide():
    """Epicardial fat twice as bright as the scar, taken into the wall by a contour drawn a voxel
    too wide, touching the scar: the enhanced FWHM takes its maximum away from the wall's borders
    and finds the scar; with the border voxels counted (the textbook maximum, given the same
    seed), half the fat's brightness lies above most of the scar."""
    image, wall, scar, grid, _, _ = ring(noise=0.03)
    z, y, x = np.mgrid[:image.shape[0], :80, :80]
    r = np.hypot(x - 40, y - 40)
    angle = np.degrees(np.arctan2(y - 40, x - 40))
    fat = (r > 28) & (r <= 29) & (angle > 20) & (angle < 60)  # one voxel outside the wall
    image[fat] = 2.2
    wide = wall | fat
    found = run("fwhm", image, wide, grid)
    assert _dice(found.scar & wall, scar) > 0.85
    seed = (4, int(40 + 24 * np.sin(np.radians(35))), int(40 + 24 * np.cos(np.radians(35))))
    literal = fwhm(ScarInput(image=image, myocardium=wide, grid=grid, seeds=[seed]), fraction=0.5,
                   gray_fraction=0.35, max_percentile=100.0, core_sd=3.5, variant="textbook")
    assert literal.scar[scar].mean() < 0.2


def test_otsu_kmeans_and_em_recover_known_classes():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0.1, 0.02, 5000), rng.normal(0.5, 0.03, 1000), rng.normal(1.0, 0.05, 2000)])
    t = otsu_threshold(np.concatenate([rng.normal(0.1, 0.02, 5000), rng.normal(1.0, 0.05, 2000)]))
    assert 0.4 < t < 0.7
    centres, labels = kmeans_1d(x, 3)
    np.testing.assert_allclose(centres, [0.1, 0.5, 1.0], atol=0.02)
    weights, params, _, _ = em_mixture(x, 3, healthy_rician=False)
    np.testing.assert_allclose([p[0] for p in params], [0.1, 0.5, 1.0], atol=0.02)
    np.testing.assert_allclose(weights, [5 / 8, 1 / 8, 2 / 8], atol=0.02)


def test_rician_moment_fit_recovers_signal_and_noise():
    rng = np.random.default_rng(2)
    nu, sigma = 0.3, 0.1
    x = np.hypot(nu + rng.normal(0, sigma, 200000), rng.normal(0, sigma, 200000))
    fit_nu, fit_sigma = _rice_fit(x, np.ones_like(x))
    assert fit_nu == pytest.approx(nu, rel=0.05) and fit_sigma == pytest.approx(sigma, rel=0.05)
    assert _mean_of([(nu, sigma)], 0, True) == pytest.approx(x.mean(), rel=0.01)
    assert _mean_of([(400.0, 0.1)], 0, True) == pytest.approx(400.0, rel=1e-4)  # no overflow at high SNR


@pytest.mark.parametrize("name", CLASSICAL)
def test_every_method_finds_the_scar_sector(name):
    image, wall, scar, grid, _, _ = ring(seed=3)
    res = run(name, image, wall, grid)
    assert _dice(res.scar, scar) > 0.85, name


@pytest.mark.parametrize("name", CLASSICAL)
def test_no_method_reports_scar_in_healthy_myocardium(name):
    image, wall, _, grid, _, _ = ring(healthy=True, seed=4, noise=0.04)
    res = run(name, image, wall, grid)
    assert res.scar.sum() < 0.02 * wall.sum(), name


def test_graphcut_hierarchical_separates_the_gray_zone():
    image, wall, scar, grid, rim, _ = ring(gray=True, seed=5)
    res = run("graphcut", image, wall, grid, hierarchical=True)
    assert _dice(res.scar, scar) > 0.9
    assert res.grayzone is not None and res.grayzone[rim].mean() > 0.6


def test_region_growing_stays_out_of_a_low_noise_gray_zone():
    """With little noise the remote + 3 SD floor lies far below a gray zone at 40 % of the way
    from healthy wall to scar, and confidence-connected growth took it in; the half-way floor
    (FWHM's half maximum from the seeds) keeps most of it out (the automatic seeds, cores of the
    smoothed signal, reach into it), and the scar is still found."""
    image, wall, scar, grid, rim, _ = ring(gray=True, seed=7, noise=0.01, gray_value=0.46)
    grown = run("region-growing", image, wall, grid)
    unfloored = run("region-growing", image, wall, grid, floor_fraction=0.0)
    assert grown.scar[scar].mean() > 0.95 and unfloored.scar[rim].mean() > 0.85
    assert grown.scar[rim].mean() < unfloored.scar[rim].mean() - 0.2


def test_region_growing_seeds_below_its_floor_do_not_widen_the_region():
    """Automatic cores come from the smoothed signal and reach past a blurred infarct's edge into
    the healthy wall; seed voxels below the floor are left out, so the region does not take in
    that edge (before: 1.11x the true infarct here, 1.5-2x on the second phantom style at low
    noise)."""
    from scipy import ndimage as ndi

    image, wall, scar, grid, _, _ = ring(seed=1, noise=0.0)
    image = ndi.gaussian_filter(image, (0, 1.5, 1.5))
    image += np.random.default_rng(1).normal(0, 0.01, image.shape).astype(np.float32)
    res = run("region-growing", image, wall, grid)
    assert 0.9 < res.scar.sum() / scar.sum() < 1.05
    assert _dice(res.scar, scar) > 0.96


def test_border_guard_removes_blood_partial_volume_but_keeps_bright_scar():
    image, wall, scar, grid, _, _ = ring(healthy=True, seed=6, noise=0.02)
    z, y, x = np.mgrid[:image.shape[0], :80, :80]
    r = np.hypot(x - 40, y - 40)
    endo = wall & (r < 21)  # the endocardial layer: half blood, half myocardium
    image[endo] = 0.4 + np.random.default_rng(0).normal(0, 0.02, endo.sum())
    off = run("strm", image, wall, grid, endo_guard=False, min_contrast_sd=0.0, min_blood_fraction=0.0)
    on = run("strm", image, wall, grid)
    assert off.scar[endo].mean() > 0.5
    assert on.scar.sum() == 0
    image2, wall2, scar2, grid2, _, _ = ring(seed=6, noise=0.02)
    kept = run("strm", image2, wall2, grid2)
    assert kept.scar[scar2 & (np.hypot(x - 40, y - 40) < 21)].mean() > 0.9  # subendocardial scar stays


def _stack_geometry():
    """A 6-slice 80x80 stack's slice index, radius and angle (degrees) about the image centre."""
    shape = (6, 80, 80)
    k, y, x = np.mgrid[:shape[0], :80, :80]
    return shape, k, np.hypot(x - 40, y - 40), np.degrees(np.arctan2(y - 40, x - 40))


def test_border_guard_keeps_infarct_as_bright_as_the_blood_in_front_of_deeper_infarct():
    """A thick-slice stack whose subendocardial infarct is as bright as the blood next to it: the
    infarct's endocardial border voxel has scar behind it and stays; on the other side of the
    heart the same brightness in the border voxel with healthy wall behind it (blood inside a
    contour drawn too wide) is dropped. In 3D volumes the guard is as before."""
    shape, k, r, angle = _stack_geometry()
    wall = (r >= 14) & (r <= 22)
    image = np.where(r < 14, 0.8, 0.3).astype(np.float32)
    image[wall] = 0.1
    infarct = wall & (r < 19) & (angle > 20) & (angle < 90)
    image[infarct] = 0.8
    from scipy import ndimage as ndi

    plane = np.zeros((3, 3, 3), dtype=bool)
    plane[1] = ndi.generate_binary_structure(2, 1)
    border = wall & ndi.binary_dilation(r < 14, structure=plane)  # the wall's endocardial border voxels
    blood_layer = border & (angle > -150) & (angle < -60)
    image[blood_layer] = 0.7  # partial volume: a little darker than the blood
    image += np.random.default_rng(2).normal(0, 0.02, shape).astype(np.float32)
    for name in ("strm", "fwhm", "otsu"):
        res = run(name, image, wall, Grid.make(shape, (1.5, 1.5, 8.0), (0, 0, 0), np.eye(3)))
        assert res.scar[infarct & border].mean() > 0.8, name
        assert not res.scar[blood_layer].any(), name
    iso = run("strm", image, wall, Grid.make(shape, (1.5, 1.5, 1.5), (0, 0, 0), np.eye(3)))
    assert iso.scar[infarct & border].mean() < 0.5


def test_a_healthy_stack_brighter_on_some_slices_gets_no_scar_from_histogram_methods():
    """EMIDEC's healthy walls are not nulled and their level changes from slice to slice: against
    the stack's darkest quarter, the upper half of a healthy slice looked significant. Each slice's
    components are judged against that slice's remote mean: no scar in the healthy stack, and the
    infarct on one slice of the same stack is still found."""
    shape, k, r, angle = _stack_geometry()
    wall = (r >= 14) & (r <= 22)
    grid = Grid.make(shape, (1.5, 1.5, 10.0), (0, 0, 0), np.eye(3))
    image = np.where(r < 14, 0.9, 0.3).astype(np.float32)
    image[wall] = (0.10 + 0.02 * k)[wall]
    image += np.random.default_rng(5).normal(0, 0.01, shape).astype(np.float32)
    infarct = wall & (k == 2) & (angle > 20) & (angle < 110)
    with_infarct = image.copy()
    with_infarct[infarct] += 0.5
    for name in ("fwhm", "otsu", "ewa", "region-growing"):
        healthy = run(name, image, wall, grid)
        assert healthy.infarct.sum() < 0.02 * wall.sum(), name
        found = run(name, with_infarct, wall, grid)
        assert _dice(found.infarct, infarct) > 0.8, name


def test_a_faint_patch_far_below_the_blood_is_not_scar_where_the_noise_is_low():
    """With little noise a healthy wall's slightly brighter patch (a tenth of the way to the blood,
    about 15 SD above remote) passes every SD test; min_blood_fraction drops it, while infarct
    as bright as the blood is still found. Where the blood is dark (other contrasts) the test
    leaves the scar alone."""
    shape, k, r, angle = _stack_geometry()
    wall = (r >= 14) & (r <= 22)
    grid = Grid.make(shape, (1.5, 1.5, 8.0), (0, 0, 0), np.eye(3))
    rng = np.random.default_rng(3)
    healthy = np.where(r < 14, 0.9, 0.3).astype(np.float32)
    healthy[wall] = 0.10
    patch = wall & (r > 15) & (r < 21) & (angle > -150) & (angle < -60)
    infarct = wall & (r < 20) & (angle > 20) & (angle < 100)
    scarred = healthy.copy()
    scarred[infarct] = 0.9
    healthy[patch] = 0.18
    healthy += rng.normal(0, 0.005, shape).astype(np.float32)
    scarred += rng.normal(0, 0.005, shape).astype(np.float32)
    for name in ("otsu", "fwhm", "region-growing"):
        assert run(name, healthy, wall, grid, min_blood_fraction=0.0).scar[patch].mean() > 0.5, name
        assert run(name, healthy, wall, grid).scar.sum() == 0, name
        assert _dice(run(name, scarred, wall, grid).scar, infarct) > 0.8, name
    dark_blood = np.where(r < 14, 0.05, scarred).astype(np.float32)
    dark_blood[infarct] = 0.25
    assert _dice(run("otsu", dark_blood, wall, grid).scar, infarct) > 0.8


def test_the_border_guard_is_as_deep_in_mm_at_finer_pixels(monkeypatch):
    """The guard's depth is 1.5 mm: one voxel at 1.5 mm pixels, two at 0.75 mm, where a stack
    exported at twice the matrix has a blood partial-volume band two pixels wide, and drops it."""
    from LVScarSegLogic.methods import postprocess

    assert postprocess.guard_depth_voxels((1.5, 1.5, 10.0)) == 1
    assert postprocess.guard_depth_voxels((0.75, 0.75, 10.0)) == 2
    assert postprocess.guard_depth_voxels((0.625, 0.625, 0.625)) == 2
    assert postprocess.guard_depth_voxels((3.0, 3.0, 3.0)) == 1
    shape = (6, 160, 160)
    k, y, x = np.mgrid[:shape[0], :160, :160]
    r = np.hypot(x - 80, y - 80)
    wall = (r >= 28) & (r <= 44)
    image = np.where(r < 28, 0.8, 0.3).astype(np.float32)
    image[wall] = 0.1
    band = wall & (r < 30)  # two 0.75-mm pixels of partial volume next to the cavity
    image[band] = 0.6
    image += np.random.default_rng(3).normal(0, 0.02, shape).astype(np.float32)
    grid = Grid.make(shape, (0.75, 0.75, 10.0), (0, 0, 0), np.eye(3))
    assert run("strm", image, wall, grid).infarct.sum() < 0.02 * wall.sum()
    monkeypatch.setattr(postprocess, "GUARD_DEPTH", 1)  # one voxel: the band's inner half stays
    assert run("strm", image, wall, grid).infarct[band].mean() > 0.3


def test_scar_alone_on_the_basal_slice_of_a_stack_is_dropped_and_nowhere_else():
    """A thick-slice stack whose cavity widens toward the base (the last slices here, as in EMIDEC):
    a bright patch on the basal slice with nothing under it on the next slice is dropped (by every
    classical method's post-processing and by lone_basal_infarct directly); the same patch with
    scar under it stays, a lone patch on the apical slice stays, and 3D volumes and stacks whose
    slices lie 20 mm apart are left alone."""
    from LVScarSegLogic.methods.postprocess import lone_basal_infarct

    shape = (6, 80, 80)
    k, y, x = np.mgrid[:shape[0], :80, :80]
    r = np.hypot(x - 40, y - 40)
    inner = 8 + 2 * k  # the cavity widens from apex (k=0) to base (k=5)
    wall = (r >= inner) & (r <= inner + 7)
    angle = np.degrees(np.arctan2(y - 40, x - 40))
    patch = wall & (angle > 10) & (angle < 60)
    rng = np.random.default_rng(3)

    def scan(scar):
        image = np.where(wall, 0.1, np.where(r < inner, 0.3, 0.2)).astype(np.float32)
        image[scar] = 0.9
        return image + rng.normal(0, 0.02, shape).astype(np.float32)

    stack = Grid.make(shape, (1.5, 1.5, 8.0), (0, 0, 0), np.eye(3))
    base_only = patch & (k == 5)
    found = run("strm", scan(base_only), wall, stack)
    assert not found.scar.any() and found.info["lone_basal_voxels"] > 0
    assert run("strm", scan(base_only), wall, stack, basal_check=False).scar[base_only].mean() > 0.8
    two = patch & (k >= 4)
    assert run("strm", scan(two), wall, stack).scar[two].mean() > 0.8
    apex_only = patch & (k == 0)
    assert run("strm", scan(apex_only), wall, stack).scar[apex_only].mean() > 0.8
    inp = ScarInput(image=scan(base_only), myocardium=wall, grid=stack)
    assert np.array_equal(lone_basal_infarct(inp, base_only), base_only)
    iso = ScarInput(image=scan(base_only), myocardium=wall, grid=Grid.make(shape, (1.5,) * 3, (0, 0, 0), np.eye(3)))
    assert not lone_basal_infarct(iso, base_only).any()
    # slices 20 mm apart: the next slice is too far to confirm a basal infarct, which stays
    sparse = Grid.make(shape, (1.5, 1.5, 20.0), (0, 0, 0), np.eye(3))
    assert not lone_basal_infarct(ScarInput(image=scan(base_only), myocardium=wall, grid=sparse), base_only).any()
    assert run("strm", scan(base_only), wall, sparse).scar[base_only].mean() > 0.8


def _fat_rimmed_stack(infarct: bool):
    """A thick-slice stack whose contour was drawn a voxel too wide over bright epicardial fat
    (the outer voxel of the wall is fat on a 100-degree arc); optionally a subendocardial infarct
    on another arc."""
    shape, k, r, angle = _stack_geometry()
    wall = (r >= 14) & (r <= 22)
    image = np.where(r < 14, 0.6, 0.3).astype(np.float32)
    image[wall] = 0.1
    fat = wall & (r > 21) & (angle > -150) & (angle < -50)
    image[fat] = 1.0
    scar = wall & (r < 19) & (angle > 20) & (angle < 90) if infarct else np.zeros_like(wall)
    image[scar] = 0.9
    image += np.random.default_rng(5).normal(0, 0.02, shape).astype(np.float32)
    return image, wall, scar, fat, Grid.make(shape, (1.5, 1.5, 8.0), (0, 0, 0), np.eye(3))


def test_a_rim_of_epicardial_fat_inside_the_contour_is_not_scar_or_mvo():
    """Fat inside a contour drawn a voxel wide is a thin bright rim along the epicardium: every
    threshold method calls it scar, and the healthy wall between it and the cavity looked like an
    enclosed MVO core. ``epi_rim`` drops such rims on slices with a cavity (the report says how
    much); the infarct, which grows from the endocardium, stays, and ``epi_rim=0`` keeps the rim."""
    image, wall, scar, fat, grid = _fat_rimmed_stack(infarct=True)
    for name in ("strm", "fwhm", "otsu"):
        kept = run(name, image, wall, grid, epi_rim=0.0)
        assert kept.scar[fat].mean() > 0.5, name
        res = run(name, image, wall, grid)
        assert not res.scar[fat].any() and res.info["epicardial_rim_voxels"] > 0, name
        assert _dice(res.scar | (res.mvo if res.mvo is not None else False), scar) > 0.85, name
    healthy, wall_h, _, fat_h, grid_h = _fat_rimmed_stack(infarct=False)
    assert not run("strm", healthy, wall_h, grid_h).scar.any()


def test_an_mvo_core_is_no_larger_than_the_enhancement_on_its_slice():
    """A large infarct on the apical slices, and on the basal ones healthy wall enclosed between
    the cavity and a rim of fat all round (the rim rule off): the healthy wall is larger than the
    enhancement around it on its slice, so it is not MVO, although it is small next to all the
    enhancement of the stack."""
    shape, k, r, angle = _stack_geometry()
    wall = (r >= 14) & (r <= 20)
    image = np.where(r < 14, 0.6, 0.3).astype(np.float32)
    image[wall] = 0.1
    infarct = wall & (k < 3) & (angle > -120) & (angle < 170)
    fat = wall & (k >= 3) & (r > 19)
    image[infarct | fat] = 1.0
    image += np.random.default_rng(5).normal(0, 0.02, shape).astype(np.float32)
    grid = Grid.make(shape, (1.5, 1.5, 8.0), (0, 0, 0), np.eye(3))
    res = run("fwhm", image, wall, grid, epi_rim=0.0, basal_check=False)
    assert res.scar[fat].mean() > 0.5 and res.scar[infarct].mean() > 0.8
    assert res.mvo is None or not res.mvo[wall & (k >= 3)].any()


def test_dark_core_inside_the_infarct_is_mvo_and_counts_as_infarct():
    image, wall, scar, grid, _, core = ring(mvo=True, seed=7)
    res = run("fwhm", image, wall, grid)
    assert res.mvo is not None and res.mvo[core].mean() > 0.8
    assert not res.mvo[wall & ~(scar | core)].any()
    infarct = res.scar | res.mvo
    assert _dice(infarct, scar | core) > 0.9
    no = run("fwhm", image, wall, grid, detect_mvo=False)
    assert no.mvo is None


def test_thick_slice_stack_uses_per_slice_statistics():
    image, wall, scar, grid, _, _ = ring(seed=8)
    stack = Grid.make(image.shape, (1.4, 1.4, 8.0), (0, 0, 0), np.eye(3))
    image = image * np.linspace(0.7, 1.3, image.shape[0])[:, None, None].astype(np.float32)  # slice-wise gain
    res = run("strm", image, wall, stack)
    assert res.info["per_slice"] is True
    assert _dice(res.scar, scar) > 0.9


def test_per_slice_statistics_keep_each_slice_s_mean_and_share_the_median_sd():
    """One slice with three times the noise must not set its own, far higher threshold (its
    remote SD from a few dozen voxels is what lifted n-SD past the scar); each slice's mean
    still follows its gain."""
    from LVScarSegLogic.methods.reference import CLIP_SD, mean_sd, remote_mask, remote_reference

    image, wall, scar, grid, _, _ = ring(seed=8)
    stack = Grid.make(image.shape, (1.4, 1.4, 8.0), (0, 0, 0), np.eye(3))
    gain = np.linspace(0.7, 1.3, image.shape[0]).astype(np.float32)
    image = image * gain[:, None, None]
    rng = np.random.default_rng(3)
    image[3] += (rng.standard_normal(image[3].shape) * 0.09).astype(np.float32)
    inp = ScarInput(image=image, myocardium=wall, grid=stack)
    mean, sd, info = remote_reference(inp, "auto", 0.25, [], clip=CLIP_SD)  # as n-SD asks for them
    remote, _ = remote_mask(inp, 0.25, 0)
    per_slice = [image[k][remote[k]] for k in range(image.shape[0]) if remote[k].sum() >= 20]
    assert info["per_slice"] is True and len(per_slice) == image.shape[0]
    stats = [mean_sd(v, CLIP_SD) for v in per_slice]
    np.testing.assert_allclose(sd.ravel(), np.median([s for _, s in stats]), rtol=1e-5)
    np.testing.assert_allclose(mean.ravel(), [m for m, _ in stats], rtol=1e-5)
    assert sd.ravel()[3] < 0.5 * image[3][remote[3]].std(ddof=1)


def test_automatic_remote_sd_ignores_enhancement_it_caught_but_a_drawn_roi_is_taken_as_drawn():
    """Where infarct covers most of a slice's wall the quietest quarter still holds some of it; those
    voxels must not widen the remote SD (n-SD's threshold then passed the scar). Clean Gaussian
    noise keeps an unbiased SD, and a reader's ROI is used as drawn."""
    from LVScarSegLogic.methods.reference import CLIP_SD, mean_sd, remote_reference

    rng = np.random.default_rng(5)
    clean = rng.normal(100.0, 10.0, 4000)
    m, s = mean_sd(clean, CLIP_SD)
    assert m == pytest.approx(100.0, abs=0.6) and s == pytest.approx(10.0, rel=0.03)
    caught = np.concatenate([clean, rng.normal(250.0, 10.0, 200)])  # 5 % enhancement at +15 SD
    assert caught.std(ddof=1) > 2.5 * 10.0
    m, s = mean_sd(caught, CLIP_SD)
    assert m == pytest.approx(100.0, abs=0.6) and s == pytest.approx(10.0, rel=0.03)

    image, wall, scar, grid, _, _ = ring(seed=2)
    drawn = wall & ~scar
    drawn_bright = drawn | scar  # a reader's ROI that includes the scar
    _, sd, info = remote_reference(ScarInput(image=image, myocardium=wall, grid=grid, remote=drawn_bright),
                                   "volume", 0.25, [], clip=CLIP_SD)
    assert info["remote_source"] == "user"
    assert float(sd.ravel()[0]) == pytest.approx(image[drawn_bright].std(ddof=1), rel=1e-5)


def test_textbook_variants_are_the_literature_forms_without_our_post_processing():
    """variant=textbook: FWHM(max) = every wall voxel >= half the wall's maximum; Otsu = every wall
    voxel above Otsu's threshold; n-SD = above remote mean + n SD of one remote ROI; none of the
    shared post-processing (border guard, significance, size, MVO) touches them."""
    from LVScarSegLogic.methods.threshold import otsu_threshold

    image, wall, scar, grid, _, _ = ring(seed=4)
    f = run("fwhm", image, wall, grid, variant="textbook")
    half = 0.5 * image[wall].max()
    np.testing.assert_array_equal(f.scar, wall & (image >= half))
    assert f.info["threshold"] == pytest.approx(half) and f.mvo is None
    o = run("otsu", image, wall, grid, variant="textbook")
    np.testing.assert_array_equal(o.scar, wall & (image > otsu_threshold(image[wall])))
    s = run("strm", image, wall, grid, variant="textbook")
    np.testing.assert_array_equal(s.scar, wall & (image > s.info["threshold"]))
    # in a healthy heart Otsu still splits the histogram: only the enhanced form's significance
    # test keeps it quiet
    image, wall, _, grid, _, _ = ring(healthy=True, seed=4)
    assert run("otsu", image, wall, grid, variant="textbook").scar.any()
    assert not run("otsu", image, wall, grid).scar.any()


def test_ewa_keeps_infarct_that_reaches_the_endocardium_and_drops_an_epicardial_island():
    """EWA's a priori rule: ischaemic scar starts at the endocardium; a bright region confined to the
    epicardial side (no contact with the cavity's border) is dropped, unless ``endocardial=false``."""
    image, wall, scar, grid, _, _ = ring(seed=8, noise=0.02)
    z, y, x = np.mgrid[:image.shape[0], :80, :80]
    r, angle = np.hypot(x - 40, y - 40), np.degrees(np.arctan2(y - 40, x - 40))
    epicardial = wall & (r > 26) & (np.abs(angle - 180) < 25)  # the outer rim, opposite the infarct sector
    image[epicardial] = image[scar].mean()
    kept = run("ewa", image, wall, grid)
    assert _dice(kept.scar, scar) > 0.85 and kept.scar[epicardial].mean() < 0.1
    without_rule = run("ewa", image, wall, grid, endocardial=False, epi_rim=0.0)  # the shared rim rule off too
    assert without_rule.scar[epicardial].mean() > 0.5
