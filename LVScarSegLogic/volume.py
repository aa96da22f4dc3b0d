"""Reading and writing scalar volumes with their exact geometry (SimpleITK / GDCM).

A :class:`Volume` is a numpy array in (k, j, i) order plus a :class:`~.geometry.Grid`.
Reading keeps the full IJK-to-physical transform (oblique directions, anisotropic spacing).
"""
from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

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


def _read_dicom_folder(folder: Path, series_uid: Optional[str] = None):
    sitk = _sitk()
    reader = sitk.ImageSeriesReader()
    series = reader.GetGDCMSeriesIDs(str(folder))
    if not series:
        raise InputError(f"{folder}: folder holds no DICOM series (and no single image file)")
    if series_uid is not None:
        if series_uid not in series:
            raise InputError(f"{folder}: no DICOM series {series_uid} here")
        series = [series_uid]
    if len(series) > 1:
        raise InputError(f"{folder}: folder holds {len(series)} DICOM series; choose one with --series "
                         "(see: lvscarseg series FOLDER)")
    files = reader.GetGDCMSeriesFileNames(str(folder), series[0])
    _check_slice_spacing(folder, files)
    reader.SetFileNames(files)
    return reader.Execute()


def _check_slice_spacing(folder: Path, files) -> None:
    """Refuse a series with missing or unevenly spaced slices: the reader would stack them at
    one average spacing and every position after the gap would be wrong."""
    if len(files) < 3:
        return
    sitk = _sitk()
    positions, normal = [], None
    for f in files:
        r = sitk.ImageFileReader()
        r.SetFileName(f)
        r.ReadImageInformation()
        if not r.HasMetaDataKey("0020|0032") or not r.HasMetaDataKey("0020|0037"):
            return  # no patient positions to check against
        ipp = np.array([float(v) for v in r.GetMetaData("0020|0032").split("\\")])
        if normal is None:
            iop = np.array([float(v) for v in r.GetMetaData("0020|0037").split("\\")])
            normal = np.cross(iop[:3], iop[3:])
        positions.append(float(ipp @ normal))
    gaps = np.diff(np.sort(positions))
    if gaps.size and (gaps.min() <= 1e-3 or gaps.max() > 1.1 * np.median(gaps) or gaps.min() < 0.9 * np.median(gaps)):
        raise InputError(f"{folder}: the DICOM series has missing, duplicate or unevenly spaced slices (gaps "
                         f"{gaps.min():.2f}-{gaps.max():.2f} mm); export a complete series")


@contextlib.contextmanager
def _quiet_native_stderr():
    """Silence C++ libraries that print straight to file descriptor 2 (MetaIO, GDCM), so that
    a bad file yields only our one-line message."""
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _itk_reason(exc: Exception) -> str:
    text = str(exc)
    if "Unable to determine ImageIO" in text:
        return "unknown or unsupported file format"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("Reason:")]
    last = re.sub(r"^(\[\w+\]\s*|ITK ERROR:\s*\S+:\s*|sitk::ERROR:\s*)+", "", lines[-1] if lines else "")
    return f"corrupt or truncated file: {last[:160]}" if last else "corrupt or truncated file"


def _check_nifti_complete(p: Path) -> None:
    """ITK fills a truncated .nii.gz with zeros without complaint; check the data length here."""
    import gzip
    import struct

    opener = gzip.open if extension(p) == ".nii.gz" else open
    try:
        with opener(p, "rb") as fh:
            header = fh.read(352)
            if len(header) < 348:
                raise InputError(f"{p}: truncated NIfTI header")
            endian = "<" if struct.unpack("<i", header[:4])[0] in (348, 540) else ">"
            if struct.unpack(endian + "i", header[:4])[0] == 540:  # NIfTI-2: ITK checks it
                return
            dims = struct.unpack(endian + "8h", header[40:56])
            bitpix = struct.unpack(endian + "h", header[72:74])[0]
            vox_offset = int(struct.unpack(endian + "f", header[108:112])[0])
            expected = vox_offset + int(np.prod([max(d, 1) for d in dims[1:dims[0] + 1]])) * bitpix // 8
            if opener is open:
                size = p.stat().st_size
            else:
                size = len(header)
                for block in iter(lambda: fh.read(1 << 22), b""):
                    size += len(block)
    except (OSError, EOFError, struct.error) as exc:
        raise InputError(f"{p}: corrupt or truncated file ({exc.__class__.__name__}: {exc})") from None
    if size < expected:
        raise InputError(f"{p}: truncated file ({size} of {expected} bytes)")


def read_image(path, series_uid: Optional[str] = None):
    """Read any supported image (file or DICOM folder; ``series_uid``: which series of the folder)
    as a SimpleITK image, with one-line errors."""
    sitk = _sitk()
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found")
    try:
        with _quiet_native_stderr():
            if p.is_dir():
                return _read_dicom_folder(p, series_uid)
            if p.stat().st_size == 0:
                raise InputError(f"{p}: file is empty")
            if extension(p) in (".nii", ".nii.gz"):
                _check_nifti_complete(p)
            return sitk.ReadImage(str(p))
    except InputError:
        raise
    except RuntimeError as exc:
        raise InputError(f"{p}: not a readable image ({_itk_reason(exc)})") from None


def read_volume(path, role: str = "image", series_uid: Optional[str] = None) -> Volume:
    """Read one 3D scalar volume (NRRD/NHDR, NIfTI, MHA/MHD or a DICOM series folder; ``series_uid``:
    the folder's series to read, when it holds several).

    Raises InputError (exit 2) for missing, unreadable, 2D, 4D or vector images.
    """
    p = Path(path)
    img = read_image(p, series_uid)
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


def looks_phase_sensitive(array: np.ndarray) -> bool:
    """A phase-sensitive (PSIR) image: more than 1 % of the voxels negative, down to more than 5 %
    of the brightest. Magnitude MR is never negative; in LGE, signed values come from PSIR."""
    flat = array.reshape(-1)
    sample = flat[:: max(1, flat.size // 500000)]  # a sample is enough
    lo, hi = np.percentile(sample, [1, 99])
    return bool((sample < 0).mean() > 0.01 and hi > 0 and lo < -0.05 * hi)


def magnitude_of(array: np.ndarray, psir: Optional[bool] = None) -> Tuple[np.ndarray, str]:
    """(the array every method works on, a note for the report or ""). A phase-sensitive (PSIR)
    image becomes its magnitude: nulled myocardium is noise around 0 in PSIR and a low positive
    floor in magnitude, and the methods and networks were made for the latter. ``psir``: what the
    DICOM header says (None: judged from the values)."""
    if psir is None:
        psir = looks_phase_sensitive(array)
    if not psir or not (array < 0).any():
        return array, ""
    return np.abs(array), "the image is phase-sensitive (PSIR, signed values): the methods ran on its magnitude"


SINGLE_FILE_FORMATS = (".nrrd", ".nii", ".nii.gz", ".mha")


def write_volume(path, array: np.ndarray, grid: Grid, compress: bool = True) -> None:
    """Write a volume atomically on ``grid`` as .nrrd, .nii, .nii.gz or .mha (single-file formats,
    so that one rename puts the whole file in place)."""
    sitk = _sitk()
    img = image_from_array(array, grid)
    ext = extension(path)
    if ext not in SINGLE_FILE_FORMATS:
        raise InputError(f"{path}: write .nrrd, .nii, .nii.gz or .mha")
    with atomic_output(path) as tmp:
        sitk.WriteImage(img, str(tmp), compress and ext != ".nii")
