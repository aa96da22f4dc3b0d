"""Choose the thick-slice search thresholds (deep/localization.py THICK_SLICE_LOW_PLAUSIBILITY,
THICK_SLICE_SEARCH_ACCEPT) on EMIDEC's training exams, for a given myocardium model.

Every exam is segmented fully automatically twice: once never searching (the localizer's LV,
checked and re-centred: its plausibility p0 and wall Dice), once always searching and taking the
best window (its plausibility ps and wall Dice). A pair (low, accept) then gives each exam the
searched result when p0 < low and ps >= accept, the other otherwise; the table lists the mean
wall Dice of every pair, so the choice is made here and the held-out exams are measured once.

    python benchmarks/search_thresholds.py [--split train] [--myo-model M.safetensors] [-o CSV]
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def per_exam(emidec: Path, split: str, myo_model, localizer_model):
    from LVScarSegLogic import labels as L
    from LVScarSegLogic.datasets import emidec_split, find_cases, load_case
    from LVScarSegLogic.deep import localization
    from LVScarSegLogic.deep.infer import segment_myocardium
    from LVScarSegLogic.masks import dice
    from LVScarSegLogic.models import default_model_path

    myo_model = myo_model or str(default_model_path("myocardium-cmpunet", "best"))
    localizer_model = localizer_model or str(default_model_path("lv-localizer", "best"))
    refs = find_cases(emidec)
    rows = []
    for ref in refs:
        if split != "all" and emidec_split(ref, refs) != split:
            continue
        image, codes, grid = load_case(ref)
        truth = np.isin(codes, L.LV_MYOCARDIUM_CODES)
        out = {"case": ref.name}
        for mode, low, accept in (("localizer", -1.0, 99.0), ("search", 99.0, -1.0)):
            localization.THICK_SLICE_LOW_PLAUSIBILITY, localization.THICK_SLICE_SEARCH_ACCEPT = low, accept
            pred, _, details, _ = segment_myocardium(image, grid.spacing_kji, "cmpunet", "cpu", False, myo_model,
                                                     localizer_model)
            loc = details["localizer"]
            out[f"{mode}_dice"] = dice(pred == L.MYOCARDIUM, truth)
            out[f"{mode}_plausibility"] = (loc.get("search", {}).get("best_lv_plausibility")
                                           if mode == "search" else loc.get("lv_plausibility"))
        rows.append(out)
        print(out, flush=True)
    return rows


def grid(rows, lows=np.arange(0.7, 1.31, 0.05), accepts=np.arange(1.0, 1.61, 0.05)):
    best = None
    table = []
    for low in lows:
        for acc in accepts:
            d = [r["search_dice"] if (r["localizer_plausibility"] or 0) < low and (r["search_plausibility"] or 0) >= acc
                 else r["localizer_dice"] for r in rows]
            score = float(np.mean(d))
            table.append((round(float(low), 2), round(float(acc), 2), score, int(np.sum(np.asarray(d) < 0.3))))
            if best is None or score > best[2] + 1e-9:
                best = table[-1]
    return table, best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--emidec", default=str(ROOT.parent / "shared" / "data" / "emidec-png"))
    ap.add_argument("--split", default="train", choices=("train", "test", "all"))
    ap.add_argument("--myo-model")
    ap.add_argument("--localizer-model")
    ap.add_argument("-o", "--output", default=str(ROOT / "build" / "search_thresholds.csv"))
    a = ap.parse_args(argv)
    rows = per_exam(Path(a.emidec), a.split, a.myo_model, a.localizer_model)
    with open(a.output, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    table, best = grid(rows)
    print(f"never search: {np.mean([r['localizer_dice'] for r in rows]):.3f}; "
          f"always search: {np.mean([r['search_dice'] for r in rows]):.3f}; "
          f"best of each exam: {np.mean([max(r['localizer_dice'], r['search_dice']) for r in rows]):.3f}")
    print(f"best pair: search below {best[0]}, accept from {best[1]}: mean wall Dice {best[2]:.3f} "
          f"({best[3]} exams below 0.3)")
    current = [t for t in table if abs(t[0] - 1.0) < 1e-6 and abs(t[1] - 1.35) < 1e-6]
    if current:
        print(f"current pair (1.0, 1.35): {current[0][2]:.3f}")


if __name__ == "__main__":
    main()
