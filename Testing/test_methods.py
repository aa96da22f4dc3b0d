"""The method registry and the textbook threshold methods on arrays with known answers."""
import numpy as np
import pytest

from LVScarSegLogic.errors import InputError
from LVScarSegLogic.geometry import Grid
from LVScarSegLogic.methods import registry
from LVScarSegLogic.methods.base import ScarInput
from LVScarSegLogic.methods.threshold import fwhm, strm


def test_registry_declares_strm_and_fwhm_with_typed_params_and_a_default():
    names = {m.name for m in registry.methods("scar")}
    assert {"strm", "fwhm"} <= names
    assert registry.default_method("scar") in names
    strm_m = registry.get("strm", "scar")
    n = strm_m.param("n")
    assert (n.type, n.default, n.min, n.max) == ("float", 5.0, 2.0, 6.0)
    js = strm_m.to_json()
    assert js["target"] == "scar" and js["params"][0]["name"] == "n" and "help" in js["params"][0]
    with pytest.raises(InputError, match="unknown scar method"):
        registry.get("nonsense", "scar")


def test_param_parsing_validates_type_range_choice_and_ownership():
    sel = [registry.get("strm", "scar")]
    assert registry.resolve_params(sel, ["n=3"])["strm"]["n"] == 3.0
    assert registry.resolve_params(sel, ["strm.statistics=slice"])["strm"]["statistics"] == "slice"
    assert registry.resolve_params(sel, [])["strm"] == sel[0].defaults()
    for bad, msg in [("n=9", "maximum"), ("n=abc", "expected float"), ("n=1", "minimum"),
                     ("statistics=sometimes", "choose one of"), ("bogus=1", "unknown parameter"),
                     ("n", "KEY=VALUE"), ("n=nan", "expected float")]:
        with pytest.raises(InputError, match=msg):
            registry.resolve_params(sel, [bad])


def _ring_phantom(scar_value=1.0, healthy=False, seed=0):
    """A thick-walled cylinder (2D stack-like) with noise; a bright sector is scar."""
    rng = np.random.default_rng(seed)
    shape = (6, 80, 80)
    z, y, x = np.mgrid[:shape[0], :shape[1], :shape[2]]
    r = np.hypot(x - 40, y - 40)
    myo = (r >= 20) & (r <= 28)
    angle = np.degrees(np.arctan2(y - 40, x - 40))
    scar = myo & (angle > 0) & (angle < 70) & (not healthy)
    image = np.full(shape, 0.3, dtype=np.float32)  # background tissue
    image[r < 20] = 0.7  # blood
    image[myo] = 0.1
    image[scar] = scar_value
    image += rng.normal(0, 0.02, shape).astype(np.float32)
    grid = Grid.make(shape, (1.0, 1.0, 1.0), (0, 0, 0), np.eye(3))
    return image, myo, scar, grid


def test_strm_threshold_is_remote_mean_plus_n_sd_of_the_given_remote_mask():
    image, myo, scar, grid = _ring_phantom()
    remote = myo & ~scar
    res = strm(ScarInput(image=image, myocardium=myo, grid=grid, remote=remote), n=3.0,
               statistics="volume", remote_fraction=0.25)
    values = image[remote & myo]
    expected = values.mean() + 3.0 * values.std(ddof=1)
    assert res.info["threshold"] == pytest.approx(expected, rel=1e-5)
    np.testing.assert_array_equal(res.scar, myo & (image > expected))
    assert res.info["remote_source"] == "user"


def test_strm_automatic_remote_avoids_the_enhanced_sector():
    image, myo, scar, grid = _ring_phantom()
    res = strm(ScarInput(image=image, myocardium=myo, grid=grid), n=5.0, statistics="auto", remote_fraction=0.25)
    assert res.info["remote_source"] == "automatic"
    assert res.info["remote_mean"] == pytest.approx(0.1, abs=0.01)
    dice = 2 * (res.scar & scar).sum() / (res.scar.sum() + scar.sum())
    assert dice > 0.95


def test_fwhm_threshold_is_half_the_region_maximum():
    image, myo, scar, grid = _ring_phantom()
    res = fwhm(ScarInput(image=image, myocardium=myo, grid=grid), fraction=0.5, max_percentile=100.0, core_sd=5.0)
    region_max = image[scar].max()
    assert res.info["threshold"] == pytest.approx(0.5 * region_max, rel=1e-6)
    assert res.info["seed_source"] == "automatic"
    dice = 2 * (res.scar & scar).sum() / (res.scar.sum() + scar.sum())
    assert dice > 0.95


def test_fwhm_user_seed_grows_only_its_own_region():
    image, myo, scar, grid = _ring_phantom()
    # a second, separate bright region opposite the scar
    z, y, x = np.mgrid[:6, :80, :80]
    other = myo & (np.degrees(np.arctan2(y - 40, x - 40)) < -120)
    image[other] = 1.0
    k, j, i = 3, 40 + 24 * np.sin(np.radians(35)), 40 + 24 * np.cos(np.radians(35))
    res = fwhm(ScarInput(image=image, myocardium=myo, grid=grid, seeds=[(k, int(j), int(i))]),
               fraction=0.5, max_percentile=100.0, core_sd=5.0)
    assert res.info["seed_source"] == "user"
    assert res.scar[scar].mean() > 0.95 and not res.scar[other].any()
    with pytest.raises(InputError, match="inside the myocardium"):
        fwhm(ScarInput(image=image, myocardium=myo, grid=grid, seeds=[(3, 40, 40)]),
             fraction=0.5, max_percentile=100.0, core_sd=5.0)


def test_healthy_myocardium_gives_no_scar_with_fwhm():
    image, myo, _, grid = _ring_phantom(healthy=True)
    res = fwhm(ScarInput(image=image, myocardium=myo, grid=grid), fraction=0.5, max_percentile=99.0, core_sd=5.0)
    assert not res.scar.any()
    assert any("no enhanced core" in w for w in res.warnings)
