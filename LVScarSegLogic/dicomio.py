"""Scanner DICOM as it comes: the series of a study folder (``lvscarseg series``), choosing one
(``--series`` by number, description or UID), proposing the LGE series, the source instances of a
volume slice by slice, and writing a volume as an MR series (phantoms for tests and demos).

Geometry: DICOM is LPS, as a Grid; a slice's ImagePositionPatient is the grid's voxel (0, 0, k),
ImageOrientationPatient its i and j axes, pixel (row, column) = voxel (j, i). pydicom reads
headers only (``stop_before_pixels``): a SEG and an SR refer to the source instances, they copy no pixels.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from .errors import InputError
from .geometry import Grid

# Words in a series description that say late gadolinium enhancement (and the inversion-recovery
# sequences it is made with), and words that say it is something else.
LGE_WORDS = ("lge", "late", "delayed", "de_", "psir", "mag_ir", "ir_", "enhancement", "viability", "mde",
             "phase sensitive", "inversion")
NOT_LGE_WORDS = ("cine", "localizer", "localiser", "scout", "survey", "t1map", "t1_map", "molli", "t2", "perfusion",
                 "flow", "phase contrast", "ti_scout", "tiscout", "look-locker")


@dataclass
class SeriesInfo:
    uid: str
    number: Optional[int]
    description: str
    modality: str
    files: List[Path] = field(default_factory=list)
    image_type: Sequence[str] = ()
    inversion_time_ms: Optional[float] = None
    frames: int = 0  # images (single-frame files) or frames (enhanced multi-frame)
    lge_score: float = 0.0

    @property
    def psir(self) -> bool:
        """Phase-sensitive reconstruction (signed values): ImageType or description says so."""
        if any("PSIR" in t.upper() or t.upper() in ("REAL", "R") for t in self.image_type):
            return True
        text = self.description.lower()
        return "psir" in text and not any(w in text for w in ("mag", "magnitude"))


def _lge_score(info: SeriesInfo) -> float:
    """How much a series looks like LGE: an inversion time and LGE words count for, cine/mapping/
    localizer words against; magnitude is preferred over PSIR (both are proposed over anything else)."""
    text = info.description.lower().replace(" ", "_") + " " + info.description.lower()
    score = 0.0
    if info.modality != "MR":
        return -10.0
    if info.inversion_time_ms is not None and 100 <= info.inversion_time_ms <= 800:
        score += 2.0
    score += 1.5 * any(w in text for w in LGE_WORDS)
    score -= 3.0 * any(w in text for w in NOT_LGE_WORDS)
    score -= 0.5 * info.psir
    score += 0.1 * min(info.frames, 20) / 20  # a stack over a single slice
    return score


def list_series(folder) -> List[SeriesInfo]:
    """Every DICOM series under ``folder`` (recursively), by series number. Non-DICOM files are skipped."""
    import pydicom

    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder")
    found: Dict[str, SeriesInfo] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(str(path), stop_before_pixels=True)
        except Exception:  # not DICOM (or not readable): not a series of this study
            continue
        uid = str(getattr(ds, "SeriesInstanceUID", "") or "")
        if not uid:
            continue
        info = found.get(uid)
        if info is None:
            ti = getattr(ds, "InversionTime", None)
            info = found[uid] = SeriesInfo(uid=uid, number=int(ds.SeriesNumber) if getattr(ds, "SeriesNumber", None)
                                           not in (None, "") else None,
                                           description=str(getattr(ds, "SeriesDescription", "") or ""),
                                           modality=str(getattr(ds, "Modality", "") or ""),
                                           image_type=tuple(str(t) for t in getattr(ds, "ImageType", ()) or ()),
                                           inversion_time_ms=float(ti) if ti not in (None, "") else None)
        info.files.append(path)
        info.frames += int(getattr(ds, "NumberOfFrames", 1) or 1)
    series = sorted(found.values(), key=lambda s: (s.number if s.number is not None else 10**9, s.description))
    for s in series:
        s.lge_score = _lge_score(s)
    return series


def propose_lge(series: Sequence[SeriesInfo]) -> Optional[SeriesInfo]:
    """The series most like LGE (magnitude before PSIR), or None when none looks like one."""
    best = max(series, key=lambda s: s.lge_score, default=None)
    return best if best is not None and best.lge_score > 0 else None


def choose_series(folder, selector: Optional[str]) -> SeriesInfo:
    """The series ``selector`` names (series number, exact description, or SeriesInstanceUID); without
    one, the only series, else the proposed LGE series. InputError lists what there is."""
    series = list_series(folder)
    if not series:
        raise InputError(f"{folder}: no DICOM series found")
    listing = "; ".join(f"{s.number}: {s.description or '(no description)'}" for s in series[:12])
    if selector is None:
        if len(series) == 1:
            return series[0]
        proposed = propose_lge(series)
        if proposed is None:
            raise InputError(f"{folder}: {len(series)} series and none looks like LGE ({listing}); choose one with "
                             "--series NUMBER (see: lvscarseg series FOLDER)")
        return proposed
    text = str(selector).strip()
    matches = [s for s in series if (text.isdigit() and s.number == int(text)) or s.uid == text
               or s.description.lower() == text.lower()]
    if not matches:
        raise InputError(f"--series {text}: no such series in {folder} ({listing})")
    if len(matches) > 1:
        raise InputError(f"--series {text}: {len(matches)} series match; give the SeriesInstanceUID")
    return matches[0]


def slice_index(ds, grid: Grid) -> int:
    """The grid's k index of a single-frame instance, from its ImagePositionPatient."""
    position = np.asarray([float(v) for v in ds.ImagePositionPatient])
    k = np.linalg.solve(grid.direction_matrix * np.asarray(grid.spacing)[None, :], position - np.asarray(grid.origin))
    return int(round(k[2]))


def source_instances(files: Sequence[Path], grid: Grid) -> List:
    """The series' instances (pydicom datasets, headers only) in the grid's k order: the volume's
    slice k is ``result[k]``. InputError when they do not make exactly the grid's slices."""
    import pydicom

    datasets = [pydicom.dcmread(str(f), stop_before_pixels=True) for f in files]  # headers: referred to
    if len(datasets) == 1 and int(getattr(datasets[0], "NumberOfFrames", 1) or 1) > 1:
        return datasets  # an enhanced multi-frame instance: its frames are the slices
    by_k = {}
    for ds in datasets:
        k = slice_index(ds, grid)
        if not 0 <= k < grid.shape[0] or k in by_k:
            raise InputError(f"{ds.filename}: its slice position does not fit the series' grid")
        by_k[k] = ds
    if len(by_k) != grid.shape[0]:
        raise InputError(f"the series has {len(by_k)} slices for a grid of {grid.shape[0]}")
    return [by_k[k] for k in range(grid.shape[0])]


def _uid(prefix: str, *parts) -> str:
    from pydicom.uid import generate_uid

    return generate_uid(prefix=None, entropy_srcs=[prefix] + [str(p) for p in parts])


def write_series(folder, array: np.ndarray, grid: Grid, *, series_number: int = 1, description: str = "LGE",
                 patient_name: str = "PHANTOM^LGE", patient_id: str = "LVSCARSEG-PHANTOM", study_uid: Optional[str] = None,
                 frame_of_reference_uid: Optional[str] = None, inversion_time_ms: Optional[float] = 300.0,
                 image_type: Sequence[str] = ("ORIGINAL", "PRIMARY", "M", "NORM"), seed: str = "0") -> List[Path]:
    """Write ``array`` (k, j, i) on ``grid`` as a single-frame MR Image Storage series, one file a
    slice; values are stored as integers (signed when any is negative, as PSIR) with a rescale
    slope and intercept that keep them. UIDs are derived from ``seed`` and the series (repeatable)."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    study_uid = study_uid or _uid("study", patient_id, seed)
    frame_uid = frame_of_reference_uid or _uid("frame", patient_id, seed)
    series_uid = _uid("series", patient_id, seed, series_number, description)
    signed = bool((array < 0).any())
    low, high = float(array.min()), float(array.max())
    top = 32767.0 if signed else 65535.0
    slope = max(max(abs(low), abs(high)) / top, 1e-6) if signed else max((high - min(low, 0.0)) / top, 1e-6)
    intercept = 0.0 if signed else min(low, 0.0)
    direction = grid.direction_matrix
    paths = []
    for k in range(array.shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = _uid("instance", series_uid, k)
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = out / f"{series_number:03d}_{k:04d}.dcm"
        ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = patient_name, patient_id, "", "O"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20260101", "120000", "1", ""
        ds.ReferringPhysicianName, ds.Manufacturer = "", "LVScarSeg phantom"
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "MR", series_number, k + 1
        ds.SeriesDescription, ds.ImageType = description, list(image_type)
        if inversion_time_ms is not None:
            ds.InversionTime = inversion_time_ms
        ds.ScanningSequence, ds.SequenceVariant, ds.MRAcquisitionType = "GR\\IR", "SK", "2D"
        ds.PositionReferenceIndicator = ""
        ds.ImagePositionPatient = [float(v) for v in np.asarray(grid.origin) + direction[:, 2] * grid.spacing[2] * k]
        ds.ImageOrientationPatient = [float(v) for v in np.concatenate([direction[:, 0], direction[:, 1]])]
        ds.PixelSpacing = [float(grid.spacing[1]), float(grid.spacing[0])]  # row spacing (j), column spacing (i)
        ds.SliceThickness, ds.SpacingBetweenSlices = float(grid.spacing[2]), float(grid.spacing[2])
        ds.Rows, ds.Columns = int(array.shape[1]), int(array.shape[2])
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, int(signed)
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = f"{slope:.10g}", f"{intercept:.10g}", "US"
        stored = np.round((array[k].astype(np.float64) - intercept) / slope)
        ds.PixelData = stored.astype(np.int16 if signed else np.uint16).tobytes()
        try:
            ds.save_as(str(path), enforce_file_format=True)  # pydicom >= 3
        except TypeError:
            ds.is_little_endian, ds.is_implicit_VR = True, False
            ds.save_as(str(path), write_like_original=False)  # pydicom 2 (Python 3.9)
        paths.append(path)
    return paths


def describe(series: Sequence[SeriesInfo]) -> str:
    """The ``lvscarseg series`` listing: number, images, description, and which one is proposed."""
    proposed = propose_lge(series)
    lines = ["number  images  description" + " " * 30 + "notes"]
    for s in series:
        notes = []
        if s is proposed:
            notes.append("proposed LGE series")
        if s.psir:
            notes.append("PSIR (signed)")
        if s.inversion_time_ms is not None:
            notes.append(f"TI {s.inversion_time_ms:g} ms")
        desc = re.sub(r"\s+", " ", s.description or "(no description)")[:40]
        lines.append(f"{str(s.number if s.number is not None else '-'):>6}  {s.frames:>6}  {desc:<41}{', '.join(notes)}")
    return "\n".join(lines)
