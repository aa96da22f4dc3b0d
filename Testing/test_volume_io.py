"""Volumes keep their voxels and exact geometry through every supported format."""
import shutil

import numpy as np
import pytest
import SimpleITK as sitk

from LVScarSegLogic.errors import InputError
from LVScarSegLogic.geometry import Grid
from LVScarSegLogic.volume import image_from_array, read_volume, write_volume
from conftest import oblique_grid


def _array(grid, dtype=np.int16):
    rng = np.random.default_rng(0)
    return rng.integers(-500, 3000, size=grid.shape).astype(dtype)


@pytest.mark.parametrize("ext", [".nrrd", ".mha", ".nii", ".nii.gz"])
def test_round_trip_keeps_voxels_and_oblique_anisotropic_geometry(tmp_path, ext):
    grid = oblique_grid()
    arr = _array(grid)
    path = tmp_path / f"vol{ext}"
    write_volume(path, arr, grid)
    vol = read_volume(path)
    np.testing.assert_array_equal(vol.array, arr)
    assert vol.grid.shape == grid.shape
    # NIfTI stores its affine in float32: exact to float32 precision, the others to double.
    tol = 1e-4 if ext.startswith(".nii") else 1e-9
    np.testing.assert_allclose(vol.grid.ijk_to_lps, grid.ijk_to_lps, atol=tol, rtol=0)


@pytest.mark.parametrize("ext", [".nhdr", ".mhd"])
def test_detached_header_formats_are_read_with_their_geometry(tmp_path, ext):
    grid = oblique_grid()
    arr = _array(grid, np.float32)
    path = tmp_path / f"vol{ext}"
    sitk.WriteImage(image_from_array(arr, grid), str(path))
    vol = read_volume(path)
    np.testing.assert_array_equal(vol.array, arr)
    np.testing.assert_allclose(vol.grid.ijk_to_lps, grid.ijk_to_lps, atol=1e-9, rtol=0)


def test_2d_multislice_stack_keeps_thick_slices(tmp_path):
    grid = Grid.make((12, 208, 256), (1.4, 1.4, 8.0), (-150.0, -120.0, 40.0),
                     [[0.8, 0.0, -0.6], [0.0, 1.0, 0.0], [0.6, 0.0, 0.8]])
    arr = _array(grid, np.uint16)
    write_volume(tmp_path / "stack.nrrd", arr, grid)
    vol = read_volume(tmp_path / "stack.nrrd")
    assert vol.grid.spacing == (1.4, 1.4, 8.0)
    assert vol.grid.size_ijk == (256, 208, 12)
    np.testing.assert_array_equal(vol.array, arr)
    np.testing.assert_allclose(vol.grid.direction_matrix, grid.direction_matrix, atol=1e-12)


def _mr_small():
    pydicom = pytest.importorskip("pydicom")
    from pydicom.data import get_testdata_file

    return pydicom, get_testdata_file("MR_small.dcm")


def test_real_dicom_file_geometry_matches_its_header(tmp_path):
    pydicom, src = _mr_small()
    folder = tmp_path / "series"
    folder.mkdir()
    shutil.copy(src, folder / "MR_small.dcm")
    ds = pydicom.dcmread(src)
    vol = read_volume(folder)
    assert vol.array.shape == (1, ds.Rows, ds.Columns)
    np.testing.assert_allclose(vol.grid.origin, [float(v) for v in ds.ImagePositionPatient], atol=1e-6)
    np.testing.assert_allclose(vol.grid.spacing[:2], [float(ds.PixelSpacing[1]), float(ds.PixelSpacing[0])])
    iop = np.array([float(v) for v in ds.ImageOrientationPatient])
    np.testing.assert_allclose(vol.grid.direction_matrix[:, 0], iop[:3], atol=1e-6)
    np.testing.assert_allclose(vol.grid.direction_matrix[:, 1], iop[3:], atol=1e-6)
    np.testing.assert_array_equal(vol.array[0], ds.pixel_array)


def _write_series(folder, slice_numbers, step_mm=5.0):
    """A DICOM series from MR_small.dcm with slices at slice_numbers x step_mm along its normal;
    returns the normal."""
    pydicom, src = _mr_small()
    folder.mkdir()
    ds = pydicom.dcmread(src)
    iop = np.array([float(v) for v in ds.ImageOrientationPatient])
    normal = np.cross(iop[:3], iop[3:])
    ipp = np.array([float(v) for v in ds.ImagePositionPatient])
    for n in slice_numbers:
        d = pydicom.dcmread(src)
        d.ImagePositionPatient = [f"{v:.4f}" for v in ipp + step_mm * n * normal]
        d.InstanceNumber = n + 1
        d.SOPInstanceUID = f"{ds.SOPInstanceUID}.{n + 1}"
        d.SliceLocation = float(ds.get("SliceLocation", 0)) + step_mm * n
        d.save_as(folder / f"slice{n}.dcm")
    return normal


def test_dicom_series_folder_is_stacked_along_the_slice_normal(tmp_path):
    folder = tmp_path / "series"
    normal = _write_series(folder, range(3))
    vol = read_volume(folder)
    assert vol.array.shape[0] == 3
    assert vol.grid.spacing[2] == pytest.approx(5.0, abs=1e-3)
    np.testing.assert_allclose(vol.grid.direction_matrix[:, 2], normal, atol=1e-5)


def test_dicom_series_with_a_missing_slice_is_refused(tmp_path):
    folder = tmp_path / "gap"
    _write_series(folder, (0, 1, 2, 4))  # slice 3 is missing
    with pytest.raises(InputError, match="missing, duplicate or unevenly spaced"):
        read_volume(folder)


def test_two_series_in_one_folder_are_refused(tmp_path):
    pydicom, src = _mr_small()
    folder = tmp_path / "mixed"
    folder.mkdir()
    for n in range(2):
        d = pydicom.dcmread(src)
        d.SeriesInstanceUID = f"{d.SeriesInstanceUID}.{n + 7}"
        d.SOPInstanceUID = f"{d.SOPInstanceUID}.{n + 7}"
        d.save_as(folder / f"s{n}.dcm")
    with pytest.raises(InputError, match="2 DICOM series"):
        read_volume(folder)


def test_bad_images_give_one_line_errors(tmp_path):
    (tmp_path / "text.nrrd").write_text("this is not an image\n" * 10)
    with pytest.raises(InputError, match="not a readable image"):
        read_volume(tmp_path / "text.nrrd")
    with pytest.raises(InputError, match="file not found"):
        read_volume(tmp_path / "missing.nii.gz")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no DICOM series"):
        read_volume(empty)
    sitk.WriteImage(sitk.Image(8, 9, sitk.sitkFloat32), str(tmp_path / "flat.nrrd"))
    with pytest.raises(InputError, match="2D image"):
        read_volume(tmp_path / "flat.nrrd")
    sitk.WriteImage(sitk.Image([4, 5, 6], sitk.sitkVectorFloat32, 3), str(tmp_path / "vec.nrrd"))
    with pytest.raises(InputError, match="components per voxel"):
        read_volume(tmp_path / "vec.nrrd")
    sitk.WriteImage(sitk.Image([4, 5, 6, 3], sitk.sitkFloat32), str(tmp_path / "4d.nii"))
    with pytest.raises(InputError, match="4D"):
        read_volume(tmp_path / "4d.nii")


def test_truncated_files_are_refused(tmp_path):
    grid = oblique_grid((20, 30, 40))
    for ext in (".nrrd", ".nii.gz", ".mha"):
        path = tmp_path / f"whole{ext}"
        write_volume(path, _array(grid), grid)
        data = path.read_bytes()
        cut = tmp_path / f"cut{ext}"
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(InputError):
            read_volume(cut)


def test_write_refuses_multi_file_formats(tmp_path):
    grid = oblique_grid()
    with pytest.raises(InputError):
        write_volume(tmp_path / "x.mhd", _array(grid), grid)
