"""The optional outputs of a run, beside the segmentation and the report: the pictures (bull's-eye,
QA montage), the one-page HTML report, and the DICOM SEG and SR. Each is written atomically."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np

from .errors import InputError
from .files import extension


def check_picture_paths(*paths: Optional[str]) -> None:
    for p in paths:
        if p and extension(p) != ".png":
            raise InputError(f"{p}: pictures are written as .png")


def write_pictures(image: np.ndarray, codes: np.ndarray, grid, analysis: Dict[str, object],
                   bullseye_path: Optional[str], qa_path: Optional[str], title: str, banner: str = "") -> None:
    """The bull's-eye and QA pictures; ``banner`` (quality.banner) is drawn across both in red."""
    if not (bullseye_path or qa_path):
        return
    from . import pictures

    if bullseye_path:
        if not analysis["segments"]:
            raise InputError(f"{bullseye_path}: no LV myocardium, so no bull's-eye")
        pictures.draw_bullseye(analysis["segments"], bullseye_path, f"{title}: AHA 17 segments", banner=banner)
    if qa_path:
        pictures.draw_qa(image, codes, grid.spacing, qa_path, title, grid=grid, frame=analysis["frame"], banner=banner)


def check_html_path(html_path: Optional[str]) -> None:
    if html_path and extension(html_path) not in (".html", ".htm"):
        raise InputError(f"{html_path}: the HTML report must end in .html")


def write_html(html_path: str, report: Dict[str, object], image: np.ndarray, codes: np.ndarray, grid,
               analysis: Dict[str, object], bullseye_path: Optional[str], qa_path: Optional[str],
               title: str) -> Dict[str, str]:
    """The HTML report with the bull's-eye and QA pictures embedded: those asked for, else drawn for
    it alone (no bull's-eye without myocardium)."""
    import tempfile

    from . import quality
    from .htmlreport import write_html_report

    with tempfile.TemporaryDirectory(prefix="lvscarseg-html-") as tmp:
        bullseye = bullseye_path or (str(Path(tmp) / "bullseye.png") if analysis["segments"] else None)
        qa = qa_path or str(Path(tmp) / "qa.png")
        write_pictures(image, codes, grid, analysis, None if bullseye_path else bullseye, None if qa_path else qa,
                       title, quality.banner(report.get("quality")))
        return write_html_report(html_path, report, bullseye, qa)


def write_dicom(seg_path: str, sr_path: Optional[str], report: Dict[str, object], codes: np.ndarray, grid,
                source_files: Sequence[Path], methods: Dict[str, Dict], model_files, wall_given: bool) -> Dict[str, object]:
    """The DICOM SEG of ``codes`` referring to the source series' instances, and the SR of the
    report's measurements referring to the SEG's segments; what the report records of them."""
    from .dicomio import source_instances
    from .dicomseg import build_dicom_seg, write_dicom_seg

    sources = source_instances(source_files, grid)
    seg = build_dicom_seg(codes, sources, methods, model_files, wall_given=wall_given)
    out: Dict[str, object] = {"dicom_seg": write_dicom_seg(seg_path, seg)}
    if sr_path:
        from .dicomsr import write_dicom_sr

        out["dicom_sr"] = write_dicom_sr(sr_path, seg, sources, report)
    return out
