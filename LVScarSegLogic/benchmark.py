"""``lvscarseg benchmark``: scar methods over a set of labelled cases, with the true or an
"observer" myocardium, summarised as the lecture's comparison table (Dice, HD95, AVD, time).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import labels as L
from .files import csv_text
from .metrics import compare_masks
from .methods import registry
from .methods.runner import run_scar_method
from .phantom.observer import observer_myocardium


def run(data_dir, method_names: Sequence[str], myocardium: str = "truth", progress=lambda f, m: None,
        params: Dict[str, Dict] = None, myocardium_method: str = None, split: str = "all",
        device: str = "auto", myocardium_params: Dict[str, object] = None) -> List[Dict[str, object]]:
    """Rows of scores. ``myocardium``: truth, observer (the true wall moved about a voxel), or auto
    (the wall predicted by ``myocardium_method``, default the default one: fully automatic).
    ``split``: all cases, only EMIDEC's held-out "test" exams, or only its "train" exams (where
    settings are chosen, so that the held-out figures stay honest)."""
    from .datasets import emidec_split, find_cases, load_case

    methods = [registry.get(m, "scar") for m in method_names]
    values = params or {m.name: m.defaults() for m in methods}
    myo = None
    if myocardium == "auto":
        myo = registry.get(myocardium_method or registry.default_method("myocardium"), "myocardium")
    cases = find_cases(data_dir)
    if split in ("test", "train"):
        cases = [c for c in cases if not c.slices or emidec_split(c, cases) == split]
    rows = []
    for n, case in enumerate(cases):
        image, truth, grid = load_case(case)
        wall = L.lv_myocardium(truth)
        if not wall.any():
            continue
        extra: Dict[str, object] = {}
        if myocardium == "observer":
            wall = observer_myocardium(wall, grid.spacing, seed=n, cavity=truth == L.BLOODPOOL)
        elif myo is not None:
            progress((n + 0.2) / len(cases), f"{case.name}: myocardium {myo.name}")
            t = time.perf_counter()
            codes, _, _, _ = myo.function()(image, grid.spacing, device=device, **(myocardium_params or {}))
            true_wall, wall = wall, L.lv_myocardium(codes)
            mm = compare_masks(wall, true_wall, grid.spacing)
            extra = {"myocardium_method": myo.name, "myocardium_dice": mm["dice"],
                     "myocardium_hd95_mm": mm["hd95_mm"], "myocardium_time_s": time.perf_counter() - t}
        ref = L.infarct(truth)
        for m in methods:
            progress((n + 0.5) / len(cases), f"{case.name}: {m.name}")
            t = time.perf_counter()
            try:
                if wall.any():
                    result = run_scar_method(m, image, wall, grid, values[m.name], device=device,
                                             wall_given=myo is None)
                else:  # a myocardium model that found no wall: no scar either, and it is scored so
                    from .methods.base import ScarResult
                    result = ScarResult(scar=np.zeros_like(wall))
                error = ""
            except Exception as exc:  # a failing method is a result to report, not a crash
                result, error = None, f"{type(exc).__name__}: {exc}"
            seconds = time.perf_counter() - t
            row = {"case": case.name, "method": m.name, "myocardium": myocardium,
                   "protocol": case.meta.get("protocol", ""), "hard": bool(case.meta.get("hard", False)),
                   "healthy": not ref.any(), "cnr": case.meta.get("cnr"), "time_s": seconds, "error": error,
                   **extra}
            if result is not None:
                # (no "& wall": contour repair may rightly put scar a voxel outside the given wall)
                pred = result.infarct
                mm = compare_masks(pred, ref, grid.spacing)
                row.update({"dice": mm["dice"], "hd95_mm": mm["hd95_mm"], "avd_ml": mm["avd_ml"],
                            "scar_ml": mm["volume_pred_ml"], "true_scar_ml": mm["volume_ref_ml"],
                            "scar_percent_of_wall": 100.0 * pred.sum() / max(int(wall.sum()), 1)})
            rows.append(row)
    return rows


def _ms(values) -> str:
    v = [x for x in values if x is not None and np.isfinite(x)]
    if not v:
        return "–"
    return f"{np.mean(v):.2f} ± {np.std(v):.2f}"


def summary_markdown(rows: List[Dict[str, object]]) -> str:
    methods = list(dict.fromkeys(r["method"] for r in rows))
    head = ("| method | scar Dice, all | Dice, normal CNR | Dice, hard CNR | Dice, 3D | Dice, 2D stack | "
            "HD95 mm | AVD mL | healthy: scar % of wall (max) | time s | errors |")
    auto = [r for r in rows if "myocardium_dice" in r]
    prefix = ""
    if auto:
        per_case = {r["case"]: r for r in auto}.values()
        prefix = (f"Myocardium `{auto[0]['myocardium_method']}` (fully automatic): LV wall Dice "
                  f"{_ms([r['myocardium_dice'] for r in per_case])}, HD95 {_ms([r['myocardium_hd95_mm'] for r in per_case])} mm, "
                  f"3D {_ms([r['myocardium_dice'] for r in per_case if '2d' not in str(r['protocol'])])}, "
                  f"2D stack {_ms([r['myocardium_dice'] for r in per_case if '2d' in str(r['protocol'])])}, "
                  f"{_ms([r['myocardium_time_s'] for r in per_case])} s per case, {len(per_case)} cases.\n\n")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for m in methods:
        rs = [r for r in rows if r["method"] == m]
        sick = [r for r in rs if not r["healthy"] and "dice" in r]
        healthy = [r for r in rs if r["healthy"] and "dice" in r]

        def dice(sel):
            return _ms([r["dice"] for r in sel])
        lines.append(" | ".join([
            f"| `{m}`", dice(sick), dice([r for r in sick if not r["hard"]]), dice([r for r in sick if r["hard"]]),
            dice([r for r in sick if "2d" not in str(r["protocol"])]),
            dice([r for r in sick if "2d" in str(r["protocol"])]),
            _ms([r["hd95_mm"] for r in sick]), _ms([r["avd_ml"] for r in sick]),
            (f"{max(r['scar_percent_of_wall'] for r in healthy):.2f}" if healthy else "–"),
            _ms([r["time_s"] for r in rs]), str(sum(1 for r in rs if r["error"])) + " |"]))
    return prefix + "\n".join(lines) + "\n"


def rows_csv(rows: List[Dict[str, object]]) -> str:
    keys = ["case", "method", "myocardium", "protocol", "hard", "healthy", "cnr", "dice", "hd95_mm", "avd_ml",
            "scar_ml", "true_scar_ml", "scar_percent_of_wall", "time_s", "error", "myocardium_method",
            "myocardium_dice", "myocardium_hd95_mm", "myocardium_time_s"]
    return csv_text(rows, keys)


def scar_method_names(methods: str) -> List[str]:
    """The scar methods a ``--methods`` value names: "all", "classical" (every method that needs no
    PyTorch, in the registry's order) or comma-separated names (checked by the caller)."""
    if methods == "all":
        return [m.name for m in registry.methods("scar")]
    if methods == "classical":
        return [m.name for m in registry.methods("scar") if "torch" not in m.needs]
    return [m.strip() for m in methods.split(",") if m.strip()]


def command(data_dir, methods: str, output_dir, myocardium: str = "truth", params: Sequence[str] = (),
            models: str = "best", myocardium_method: Optional[str] = None, split: str = "all", device: str = "auto",
            progress=lambda f, m: None) -> Tuple[str, Tuple[Path, Path]]:
    """``lvscarseg benchmark``: (Markdown table, (its .md path, .csv path)). ``methods``: see
    ``scar_method_names``; ``params``: KEY=VALUE or METHOD.KEY=VALUE strings, routed to the methods
    that own them (myocardium-model parameters go to the model of ``myocardium`` "auto"). Names and
    parameters are checked before any case runs."""
    from .errors import InputError
    from .files import write_text_atomic

    names = scar_method_names(methods)
    chosen = [registry.get(name, "scar") for name in names]  # unknown names fail before any work
    pairs: Dict[str, List[str]] = {m.name: [] for m in chosen}
    myo_pairs = []
    myo_param_names = {p.name for m in registry.methods("myocardium") for p in m.params}
    for pair in params:
        key = pair.split("=", 1)[0]
        if key in myo_param_names:  # for the myocardium model of --myocardium auto
            myo_pairs.append(pair)
            continue
        owners = [m for m in chosen if key.startswith(m.name + ".") or any(p.name == key for p in m.params)]
        if not owners:
            raise InputError(f"--param {pair}: no chosen method has this parameter")
        for m in owners:
            pairs[m.name].append(pair[len(m.name) + 1:] if key.startswith(m.name + ".") else pair)
    values = {m.name: registry.resolve_params([m], pairs[m.name])[m.name] for m in chosen}
    registry.use_model_set(chosen, values, models)
    out = Path(output_dir)
    if not out.is_dir():
        raise InputError(f"{out}: output folder does not exist")
    label, myo_values = myocardium, {}
    if myocardium == "auto":
        myo = registry.get(myocardium_method or registry.default_method("myocardium"), "myocardium")
        label = f"auto-{myo.name}"
        myo_values = registry.resolve_params([myo], myo_pairs)[myo.key]
        registry.use_model_set([myo], {myo.key: myo_values}, models)
    elif myocardium_method or myo_pairs:
        raise InputError("--myocardium-method and myocardium-model parameters need --myocardium auto")
    rows = run(data_dir, names, myocardium, progress=progress, params=values, myocardium_method=myocardium_method,
               split=split, device=device, myocardium_params=myo_values)
    table = summary_markdown(rows)
    label += "" if models == "best" else f"-{models}"  # tables of the two model sets side by side
    paths = (out / f"benchmark_{label}.md", out / f"benchmark_{label}.csv")
    write_text_atomic(paths[0], table)
    write_text_atomic(paths[1], rows_csv(rows))
    return table, paths
