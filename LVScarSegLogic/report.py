"""The report JSON (contract keys) and its one-screen text summary."""
from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from . import __version__
from .files import sha256_of, write_text_atomic
from .geometry import Grid
from .measure import volumes


def input_record(path, grid: Grid) -> Dict[str, object]:
    return {
        "path": str(Path(path).resolve()),
        "sha256": sha256_of(path),
        "size": list(grid.size_ijk),
        "spacing_mm": list(grid.spacing),
        "origin_lps_mm": list(grid.origin),
        "direction_lps": [list(r) for r in grid.direction],
    }


def analyze(codes: np.ndarray, grid: Grid, image: Optional[np.ndarray] = None,
            rv_insertion_ras=()) -> Dict[str, object]:
    """LV frame, AHA 17-segment table and per-slice volumes of a coded segmentation."""
    from . import aha

    frame = aha.lv_frame(codes, grid, image, rv_insertion_ras)
    out: Dict[str, object] = {"frame": frame, "segments": [], "warnings": [], "slices": aha.per_slice(codes, grid)}
    if frame is None:
        out["warnings"] = ["no LV myocardium: AHA 17-segment analysis skipped; aha_segments is empty"]
        return out
    out.update(segments=aha.segment_table(codes, grid, frame), warnings=list(frame.warnings))
    if image is not None:
        from .measure import pv_weighted_infarct

        out["pv_weighted"] = pv_weighted_infarct(image, codes, grid)
    return out


def build_report(image_path, grid: Grid, codes: np.ndarray, methods: Dict[str, object],
                 warnings: List[str], timing: Dict[str, float], extra_inputs: Optional[Dict[str, object]] = None,
                 output: Optional[str] = None, analysis: Optional[Dict[str, object]] = None) -> Dict[str, object]:
    report: Dict[str, object] = {
        "software": {"name": "LVScarSeg", "version": __version__, "python": platform.python_version()},
        "input": input_record(image_path, grid),
    }
    if extra_inputs:
        report["inputs"] = extra_inputs
    report["methods"] = methods
    report.update(volumes(codes, grid))
    if analysis is None:
        analysis = analyze(codes, grid)
    warnings = list(warnings) + list(analysis["warnings"])
    report["aha_segments"] = analysis["segments"]
    report["infarct_pv_weighted"] = analysis.get("pv_weighted")  # None without image, scar or remote
    report["lv_frame"] = analysis["frame"].to_json() if analysis["frame"] is not None else None
    report["slices"] = analysis["slices"]
    report["warnings"] = list(dict.fromkeys(warnings))  # keep order, drop repeats
    report["timing_s"] = {k: round(v, 4) for k, v in timing.items()}
    if output:
        report["output"] = str(Path(output).resolve())
    return report


def _default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def to_json(report: Dict[str, object]) -> str:
    return json.dumps(report, indent=2, default=_default) + "\n"


def write_report(path, report: Dict[str, object]) -> None:
    write_text_atomic(path, to_json(report))


def summary_text(report: Dict[str, object]) -> str:
    v = report["volumes_ml"]
    verdict = report.get("quality", {"status": "ok"})
    lines = [] if verdict["status"] == "ok" else [
        f"QUALITY {verdict['status'].upper()}: " + "; ".join(verdict.get("reasons", []))]
    lines += [
        f"LV myocardium  {v['lv_myocardium']:8.1f} mL   {report['lv_mass_g']:7.1f} g",
        f"Scar (infarct) {v['scar']:8.1f} mL   {report['scar_mass_g']:7.1f} g   {report['scar_percent']:5.1f} % of LV myocardium",
    ]
    if v.get("mvo"):
        lines.append(f"  of which MVO {v['mvo']:8.1f} mL")
    if v.get("grayzone"):
        lines.append(f"Gray zone      {v['grayzone']:8.1f} mL   {report['grayzone_percent']:5.1f} %")
    pv = report.get("infarct_pv_weighted")
    if pv:
        lines.append(f"Infarct, partial-volume weighted (Heiberg 2008) {pv['ml']:.1f} mL   {pv['percent']:.1f} %")
    segs = [r for r in report.get("aha_segments", []) if r["scar_percent"] >= 1.0]
    if segs:
        lines.append("AHA segments with infarct: " + ", ".join(
            f"{r['segment']} {r['name']} {r['scar_percent']:.0f}% (transmurality {r['transmurality_mean']:.2f})"
            for r in sorted(segs, key=lambda r: -r["scar_percent"])[:6]))
    for w in report.get("warnings", []):
        lines.append(f"warning: {w}")
    lines.extend(model_license_lines(report.get("models", [])))
    return "\n".join(lines)


def model_license_lines(models) -> List[str]:
    """One line per model file a run used, with its license (a non-commercial one said so)."""
    from .models import license_note

    return [f"model: {m['name']} ({m['task']}), license {license_note(m['license'])}" for m in models]
