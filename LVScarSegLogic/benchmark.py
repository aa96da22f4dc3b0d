"""``lvscarseg benchmark``: scar methods over a set of labelled cases, with the true or an
"observer" myocardium, summarised as the lecture's comparison table (Dice, HD95, AVD, time).
"""
from __future__ import annotations

import csv
import io
import time
from typing import Dict, List, Sequence

import numpy as np
from scipy import ndimage as ndi

from . import labels as L
from .metrics import compare_masks
from .methods import registry
from .methods.common import in_plane_structure
from .methods.runner import run_scar_method


def observer_myocardium(wall: np.ndarray, spacing, seed: int, cavity: np.ndarray = None) -> np.ndarray:
    """The wall as a human would draw it: the endocardial and the epicardial border each moved
    about one voxel in or out, in smooth patches, independently (in-plane for thick-slice
    stacks). ``cavity`` (the LV blood pool) tells the two borders apart; without it, the wall's
    holes filled slice by slice are used."""
    rng = np.random.default_rng(seed)
    structure = in_plane_structure(spacing)
    if cavity is None:
        cavity = ndi.binary_fill_holes(wall, structure=structure) & ~wall
    cavity = cavity & ~wall
    outside = ~(wall | cavity)
    sigma = [max(0.5, 6.0 / s) for s in np.asarray(spacing, dtype=float)[::-1]]

    def patches():
        f = ndi.gaussian_filter(rng.standard_normal(wall.shape).astype(np.float32), sigma)
        return f / max(float(f.std()), 1e-9)

    out = wall.copy()
    for side, f in ((cavity, patches()), (outside, patches())):
        touching_side = wall & ndi.binary_dilation(side, structure)
        touching_wall = side & ndi.binary_dilation(wall, structure)
        out[touching_side & (f < -0.4)] = False  # border drawn a voxel inside the wall
        out[touching_wall & (f > 0.4)] = True  # border drawn a voxel outside it
    return out


def run(data_dir, method_names: Sequence[str], myocardium: str = "truth", progress=lambda f, m: None,
        params: Dict[str, Dict] = None) -> List[Dict[str, object]]:
    from .datasets import find_cases, load_case

    methods = [registry.get(m, "scar") for m in method_names]
    values = params or {m.name: m.defaults() for m in methods}
    cases = find_cases(data_dir)
    rows = []
    for n, case in enumerate(cases):
        image, truth, grid = load_case(case)
        wall = L.lv_myocardium(truth)
        if not wall.any():
            continue
        if myocardium == "observer":
            wall = observer_myocardium(wall, grid.spacing, seed=n, cavity=truth == L.BLOODPOOL)
        ref = L.infarct(truth)
        for m in methods:
            progress((n + 0.5) / len(cases), f"{case.name}: {m.name}")
            t = time.perf_counter()
            try:
                result = run_scar_method(m, image, wall, grid, values[m.name])
                error = ""
            except Exception as exc:  # a failing method is a result to report, not a crash
                result, error = None, f"{type(exc).__name__}: {exc}"
            seconds = time.perf_counter() - t
            row = {"case": case.name, "method": m.name, "myocardium": myocardium,
                   "protocol": case.meta.get("protocol", ""), "hard": bool(case.meta.get("hard", False)),
                   "healthy": not ref.any(), "cnr": case.meta.get("cnr"), "time_s": seconds, "error": error}
            if result is not None:
                # (no "& wall": contour repair may rightly put scar a voxel outside the given wall)
                pred = result.scar | (result.mvo if result.mvo is not None else False)
                mm = compare_masks(pred, ref, grid.spacing)
                row.update({"dice": mm["dice"], "hd95_mm": mm["hd95_mm"], "avd_ml": mm["avd_ml"],
                            "scar_ml": mm["volume_pred_ml"], "true_scar_ml": mm["volume_ref_ml"],
                            "scar_percent_of_wall": 100.0 * pred.sum() / wall.sum()})
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
    return "\n".join(lines) + "\n"


def rows_csv(rows: List[Dict[str, object]]) -> str:
    keys = ["case", "method", "myocardium", "protocol", "hard", "healthy", "cnr", "dice", "hd95_mm", "avd_ml",
            "scar_ml", "true_scar_ml", "scar_percent_of_wall", "time_s", "error"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return buf.getvalue()
