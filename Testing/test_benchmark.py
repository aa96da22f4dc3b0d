"""Benchmark runner, observer contours, case collections and contour repair."""

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from LVScarSegLogic.phantom.observer import observer_myocardium
from LVScarSegLogic.datasets import EMIDEC_ASSUMED_SPACING, find_cases, load_case
from LVScarSegLogic.volume import write_volume
from conftest import run_cli
from test_methods import ring, run


def test_observer_wall_moves_each_border_by_at_most_one_voxel_in_both_directions():
    image, wall, scar, grid, _, _ = ring()
    z, y, x = np.mgrid[:wall.shape[0], :80, :80]
    cavity = np.hypot(x - 40, y - 40) < 20
    obs = observer_myocardium(wall, grid.spacing, seed=3, cavity=cavity)
    one = ndi.generate_binary_structure(3, 1)
    assert (obs & ~wall).any() and (wall & ~obs).any()
    assert not (obs & ~ndi.binary_dilation(wall, one)).any()
    assert not (~obs & ndi.binary_erosion(wall, one)).any()
    np.testing.assert_array_equal(obs, observer_myocardium(wall, grid.spacing, seed=3, cavity=cavity))


def test_contour_repair_recovers_scar_cut_off_by_a_tight_contour():
    image, wall, scar, grid, _, _ = ring(seed=9)
    z, y, x = np.mgrid[:wall.shape[0], :80, :80]
    tight = wall & (np.hypot(x - 40, y - 40) <= 27)  # epicardial border drawn one voxel inside
    lost = scar & ~tight
    strict = run("fwhm", image, tight, grid)  # the default: the given wall is the wall
    repaired = run("fwhm", image, tight, grid, repair_voxels=1)
    assert not (strict.scar & ~tight).any()
    assert repaired.scar[lost].mean() > 0.8
    assert not (repaired.scar & ~tight & ~scar).any()  # no blood or background taken
    assert any("beyond the given myocardium" in w for w in repaired.warnings)


def _tiny_phantom_dir(tmp_path, lowres_case, healthy_case):
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "labels").mkdir()
    for name, case in (("sick", lowres_case), ("well", healthy_case)):
        write_volume(data / "images" / f"{name}.nrrd", read(case["image"]), case["grid"])
        write_volume(data / "labels" / f"{name}.nrrd", case["codes"], case["grid"])
    return data


def read(path):
    from LVScarSegLogic.volume import read_volume

    return read_volume(path).array


def test_benchmark_command_writes_markdown_and_csv_tables(tmp_path, lowres_case, healthy_case):
    data = _tiny_phantom_dir(tmp_path, lowres_case, healthy_case)
    out = tmp_path / "results"
    out.mkdir()
    r = run_cli("--quiet", "benchmark", data, "--methods", "fwhm,otsu", "--myocardium", "observer", "-o", out)
    assert r.code == 0, r.err
    table = (out / "benchmark_observer.md").read_text()
    assert "`fwhm`" in table and "`otsu`" in table and "HD95" in table
    rows = (out / "benchmark_observer.csv").read_text().splitlines()
    assert rows[0].startswith("case,method") and len(rows) == 1 + 2 * 2
    healthy = [ln for ln in rows[1:] if ln.startswith("well")]
    assert all(",True," in ln for ln in healthy)
    assert run_cli("benchmark", data, "--methods", "nope", "-o", out).code == 2


def test_benchmark_methods_all_and_classical_come_from_the_registry():
    from LVScarSegLogic.benchmark import scar_method_names
    from LVScarSegLogic.methods import registry

    every = [m.name for m in registry.methods("scar")]
    assert scar_method_names("all") == every
    classical = scar_method_names("classical")
    assert classical == [n for n in every if n in classical]  # the registry's order
    assert {"strm", "fwhm", "otsu", "ewa", "random-forest"} <= set(classical)
    assert not {"cmpunet", "unet", "gan", "cnn"} & set(classical)
    assert all("torch" not in registry.get(n, "scar").needs for n in classical)
    assert scar_method_names(" strm, otsu ,") == ["strm", "otsu"]


def test_emidec_png_export_is_stacked_per_case(tmp_path):
    for split in ("train", "trainannot"):
        (tmp_path / split).mkdir()
    rng = np.random.default_rng(0)
    for case, n in (("Case_P001", 3), ("Case_N002", 2)):
        for s in range(n):
            img = rng.integers(0, 255, (32, 32), dtype=np.uint8)
            lab = np.zeros((32, 32), np.uint8)
            lab[10:20, 10:20] = 2
            lab[12:15, 12:15] = 3 if case.startswith("Case_P") else 2
            Image.fromarray(img).save(tmp_path / "train" / f"{case}_slice{s:03d}.png")
            Image.fromarray(lab).save(tmp_path / "trainannot" / f"{case}_slice{s:03d}.png")
    cases = find_cases(tmp_path)
    assert [c.name for c in cases] == ["Case_N002", "Case_P001"]
    assert cases[0].meta["healthy"] and not cases[1].meta["healthy"]
    image, codes, grid = load_case(cases[1])
    assert image.shape == (3, 32, 32) and codes.shape == (3, 32, 32)
    assert grid.spacing == EMIDEC_ASSUMED_SPACING and (codes == 3).sum() == 27
