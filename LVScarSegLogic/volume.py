"""Reading and writing scalar volumes with their exact geometry (SimpleITK / GDCM).

A :class:`Volume` is a numpy array in (k, j, i) order plus a :class:`~.geometry.Grid`.
Reading keeps the full IJK-to-physical transform (oblique directions, anisotropic spacing).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from .errors import InputError
from .files import atomic_output, extension
from .geometry import Grid


@dataclass
class Volume:
    array: np.ndarray  # (k, j, i)
    grid: Grid
    path: Optional[str] = None

    def __post_init__(self):
        if tuple(self.array.shape) != tuple(self.grid.shape):
            raise ValueError(f"array shape {self.array.shape} does not match grid {self.grid.shape}")


def _sitk():
    import SimpleITK as sitk  # imported on first use: ~0.2 s

    return sitk


def grid_of_image(img) -> Grid:
    size = img.GetSize()
    return Grid.make((size[2], size[1], size[0]), img.GetSpacing(), img.GetOrigin(),
                     np.array(img.GetDirection()).reshape(3, 3))


def image_from_array(array: np.ndarray, grid: Grid):
    sitk = _sitk()
    img = sitk.GetImageFromArray(np.ascontiguousarray(array))
    img.SetSpacing(grid.spacing)
    img.SetOrigin(grid.origin)
    img.SetDirection(tuple(grid.direction_matrix.ravel()))
    return img


def _read_dicom_folder(folder: Path):
    sitk = _sitk()
    reader = sitk.ImageSeriesReader()
    series = reader.GetGDCMSeriesIDs(str(folder))
    if not series:
        raise InputError(f"{folder}: folder holds no DICOM series (and no single image file)")
    if len(series) > 1:
        raise InputError(f"{folder}: folder holds {len(series)} DICOM series ({', '.join(series[:4])}...); "
                         "put one series per folder")
    files = reader.GetGDCMSeriesFileNames(str(folder), series[0])
    reader.SetFileNames(files)
    return reader.Execute()


def read_image(path):
    """Read any supported image (file or DICOM folder) as a SimpleITK image, with one-line errors."""
    sitk = _sitk()
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found")
    try:
        if p.is_dir():
            return _read_dicom_folder(p)
        if p.stat().st_size == 0:
            raise InputError(f"{p}: file is empty")
        return sitk.ReadImage(str(p))
    except InputError:
        raise
    except RuntimeError as exc:
        # ITK's messages are many lines long; keep the gist on one line.
        detail = " ".join(str(exc).split())
        detail = detail.split("Description:")[-1].strip()[:200]
        raise InputError(f"{p}: not a readable image ({detail or 'unknown format'})") from None


def read_volume(path, role: str = "image") -> Volume:
    """Read one 3D scalar volume (NRRD/NHDR, NIfTI, MHA/MHD or a DICOM series folder).

    Raises InputError (exit 2) for missing, unreadable, 2D, 4D or vector images.
    """
    p = Path(path)
    img = read_image(p)
    if img.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"{p}: the {role} has {img.GetNumberOfComponentsPerPixel()} components per voxel "
                         "(vector/RGB); a scalar volume is needed")
    dim = img.GetDimension()
    if dim == 2:
        raise InputError(f"{p}: the {role} is a 2D image; a 3D volume (or a stack of slices) is needed")
    if dim == 4:
        size = img.GetSize()
        if size[3] != 1:
            raise InputError(f"{p}: the {role} is 4D ({size[3]} frames); export a single 3D frame")
        img = img[:, :, :, 0]
    elif dim != 3:
        raise InputError(f"{p}: the {role} has {dim} dimensions; a 3D volume is needed")
    sitk = _sitk()
    array = sitk.GetArrayFromImage(img)
    grid = grid_of_image(img)
    if min(grid.spacing) <= 0 or not np.all(np.isfinite(grid.spacing)):
        raise InputError(f"{p}: the {role} has an invalid voxel spacing {grid.spacing}")
    if abs(abs(np.linalg.det(grid.direction_matrix)) - 1.0) > 1e-3:
        raise InputError(f"{p}: the {role} has degenerate axis directions (determinant "
                         f"{np.linalg.det(grid.direction_matrix):.3g})")
    return Volume(array=array, grid=grid, path=str(p))


def write_volume(path, array: np.ndarray, grid: Grid, compress: bool = True) -> None:
    """Write a volume atomically on ``grid`` (format from the extension: .nrrd, .nii(.gz), .mha, .mhd)."""
    sitk = _sitk()
    img = image_from_array(array, grid)
    ext = extension(path)
    if ext == ".mhd":
        # An .mhd has a companion .raw file; rename both into place.
        dest = Path(path)
        with atomic_output(dest) as tmp:
            sitk.WriteImage(img, str(tmp), False)
            raw_tmp = tmp.with_suffix(".raw")
            raw_dest = dest.with_suffix(".raw")
            text = tmp.read_text().replace(f"ElementDataFile = {raw_tmp.name}", f"ElementDataFile = {raw_dest.name}")
            tmp.write_text(text)
            raw_tmp.replace(raw_dest)
        return
    with atomic_output(path) as tmp:
        sitk.WriteImage(img, str(tmp), compress and ext != ".nii")
