"""The ``lvscarseg segment`` command line, built in one place: the batch runner and the Slicer
module both start the engine with it (a test parses what it builds with the CLI's own parser)."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Union


def format_point(ras: Sequence[float]) -> str:
    """A point (RAS mm) as the CLI reads it: ``R,A,S``."""
    return ",".join(f"{float(v):.6g}" for v in ras)


def _param_text(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def segment_argv(image: str, output: str, *, report: Optional[str] = None, qa: Optional[str] = None,
                 bullseye: Optional[str] = None, myocardium: Optional[str] = None,
                 myocardium_method: Optional[str] = None, scar_method: Optional[str] = None,
                 params: Union[Dict[str, object], Sequence[str], None] = None, seeds_ras: Sequence[Sequence[float]] = (),
                 rv_insertion_ras: Sequence[Sequence[float]] = (), lv_center_ras: Optional[Sequence[float]] = None,
                 remote: Optional[str] = None, device: str = "auto", models: str = "best",
                 quiet: bool = False, series: Optional[str] = None, dicom_seg: Optional[str] = None,
                 dicom_sr: Optional[str] = None, html: Optional[str] = None,
                 dicom_source: Optional[str] = None) -> List[str]:
    """The arguments after ``python -m LVScarSegLogic`` for one segmentation. ``params``:
    {name: value} (bools become true/false) or ``KEY=VALUE`` strings as typed. A given
    ``myocardium`` wins over ``myocardium_method``, and the LV centre is only sent without one."""
    argv = (["--quiet"] if quiet else []) + ["segment", str(image), "-o", str(output), "--device", device,
                                             "--models", models]
    for flag, value in (("--report", report), ("--qa", qa), ("--bullseye", bullseye), ("--remote", remote),
                        ("--scar-method", scar_method), ("--series", series), ("--dicom-seg", dicom_seg),
                        ("--dicom-sr", dicom_sr), ("--html", html), ("--dicom-source", dicom_source)):
        if value:
            argv += [flag, str(value)]
    if myocardium:
        argv += ["--myocardium", str(myocardium)]
    elif myocardium_method:
        argv += ["--myocardium-method", myocardium_method]
    pairs = [f"{k}={_param_text(v)}" for k, v in params.items()] if isinstance(params, dict) else list(params or ())
    for pair in pairs:
        argv += ["--param", pair]
    argv += [f"--seed={format_point(p)}" for p in seeds_ras]
    argv += [f"--rv-insertion={format_point(p)}" for p in rv_insertion_ras]
    if lv_center_ras is not None and not myocardium:
        argv.append(f"--lv-center={format_point(lv_center_ras)}")
    return argv
