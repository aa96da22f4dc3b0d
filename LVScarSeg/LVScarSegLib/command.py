"""Command lines of the engine as the module runs them, and parsing of what comes back."""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Tuple

_PROGRESS = re.compile(r"^PROGRESS (\d{1,3}) (.*)$")


def segment_command(python: str, image: str, output: str, report: str, **options) -> List[str]:
    """argv for ``lvscarseg segment`` run with Slicer's PythonSlicer: the engine's own
    ``argv.segment_argv`` (the one the batch runner uses); ``options`` as it takes them
    (myocardium, myocardium_method, scar_method, params, seeds_ras, rv_insertion_ras, remote,
    device, bullseye, lv_center_ras, models)."""
    from LVScarSegLogic.argv import segment_argv  # the engine sits beside the module (logic.py)

    return [python, "-m", "LVScarSegLogic"] + segment_argv(image, output, report=report, **options)


def measure_command(python: str, image: str, segmentation: str, report: str,
                    rv_insertion_ras: Sequence[Sequence[float]] = (), bullseye: Optional[str] = None) -> List[str]:
    from LVScarSegLogic.argv import format_point

    cmd = [python, "-m", "LVScarSegLogic", "measure", image, segmentation, "--report", report]
    for p in rv_insertion_ras:
        cmd.append(f"--rv-insertion={format_point(p)}")
    if bullseye:
        cmd += ["--bullseye", bullseye]
    return cmd


def compare_command(python: str, image: str, myocardium: str, methods: Sequence[str], report: str,
                    output: Optional[str] = None, device: str = "auto", models: str = "best") -> List[str]:
    cmd = [python, "-m", "LVScarSegLogic", "compare", image, "--myocardium", myocardium, "--methods",
           ",".join(methods), "--report", report, "--device", device, "--models", models]
    if output:
        cmd += ["-o", output]
    return cmd


def parse_progress(line: str) -> Optional[Tuple[int, str]]:
    """(percent 0-100, message) of a ``PROGRESS <percent> <message>`` line, else None."""
    m = _PROGRESS.match(line.strip())
    if not m:
        return None
    return min(int(m.group(1)), 100), m.group(2)


def error_message(stderr_text: str, exit_code: int) -> str:
    """The one-line error the engine printed (exit 2), or a summary of an unexpected failure."""
    lines = [ln.strip() for ln in stderr_text.splitlines() if ln.strip() and not ln.startswith("PROGRESS ")]
    errors = [ln for ln in lines if ln.startswith("lvscarseg:")]
    if errors:
        text = errors[-1][len("lvscarseg:"):].strip()
        return text[len("error:"):].strip() if text.startswith("error:") else text
    if exit_code == 143:
        return "cancelled"
    return lines[-1] if lines else f"the engine stopped with exit code {exit_code}"


def lv_in_doubt(report: Dict[str, object]) -> bool:
    """True when an automatic run's report says the LV it found may not be the LV (the engine's
    own doubt phrases, quality.DOUBT_PHRASES), or its quality verdict is not "ok"."""
    from LVScarSegLogic.quality import DOUBT_PHRASES  # the engine sits beside the module (logic.py)

    if is_comparison(report) or report.get("methods", {}).get("myocardium", {}).get("name") == "given":
        return False
    return report.get("quality", {}).get("status", "ok") != "ok" or any(
        phrase in w for w in report.get("warnings", []) for phrase in DOUBT_PHRASES)


def quality_text(report: Dict[str, object]) -> str:
    """'' for an "ok" result, else 'Quality FAILED: reason; reason' (shown next to the result)."""
    verdict = report.get("quality", {})
    if verdict.get("status", "ok") == "ok":
        return ""
    return f"Quality {verdict['status'].upper()}: " + "; ".join(verdict.get("reasons", []))


def license_lines(report: Dict[str, object]) -> List[str]:
    """'model NAME: license ...' for every model file the run used (non-commercial ones said so)."""
    from LVScarSegLogic.models import license_note  # one wording for a license, engine and module

    return [f"model {m.get('name')}: license {license_note(m.get('license'))}" for m in report.get("models", [])]


def is_comparison(report: Dict[str, object]) -> bool:
    """True for the report of ``lvscarseg compare`` (per-method results and a consensus)."""
    return "consensus" in report and isinstance(report.get("methods"), list)


def report_rows(report: Dict[str, object]) -> List[Tuple[str, str, str]]:
    """(measurement, value, unit) rows of a report (segment, measure or compare) for the results table."""
    if is_comparison(report):
        rows = [(f"Scar by {m['method']}", f"{m['scar_ml']:.2f} mL, {m['scar_percent']:.1f} % of LV", "")
                for m in report["methods"]]
        c, a = report["consensus"], report["agreement"]
        rows.append(("STAPLE consensus", f"{c['scar_ml']:.2f} mL, {c['scar_percent']:.1f} % of LV", ""))
        rows.append(("Methods range", f"{a['scar_percent_range'][0]:.1f}-{a['scar_percent_range'][1]:.1f}", "% of LV"))
        return rows
    v = report["volumes_ml"]
    rows = [("LV myocardium", f"{v['lv_myocardium']:.1f}", "mL"), ("LV mass", f"{report['lv_mass_g']:.1f}", "g"),
            ("Scar (infarct)", f"{v['scar']:.2f}", "mL"), ("Scar mass", f"{report['scar_mass_g']:.2f}", "g"),
            ("Scar of LV myocardium", f"{report['scar_percent']:.1f}", "%"), ("MVO", f"{v['mvo']:.2f}", "mL"),
            ("Gray zone", f"{v['grayzone']:.2f}", "mL"), ("Gray zone of LV myocardium", f"{report['grayzone_percent']:.1f}", "%"),
            ("LV blood pool", f"{v['bloodpool']:.1f}", "mL")]
    for s in report.get("aha_segments", []):
        rows.append((f"AHA {s['segment']} {s['name']}",
                     f"{s['scar_percent']:.0f} % scar, transmurality {s['transmurality_mean']:.2f} "
                     f"(max {s['transmurality_max']:.2f})", ""))
    return rows


def aha_table(report: Dict[str, object]) -> List[List[str]]:
    """Rows (segment, name, myocardium mL, scar mL, scar %, transmurality mean, max) for a table node."""
    return [[str(s["segment"]), s["name"], f"{s['myocardium_ml']:.2f}", f"{s['scar_ml']:.2f}",
             f"{s['scar_percent']:.1f}", f"{s['transmurality_mean']:.2f}", f"{s['transmurality_max']:.2f}"]
            for s in report.get("aha_segments", [])]
