"""Scar methods with the expert's wall on real EMIDEC exams as given (10 mm apart) and with every
second slice only (20 mm apart, as the 12-23 mm stacks of 2-6 slices elsewhere): infarct Dice on
the exams with infarct and the % of the wall called infarct in the healthy ones, with the basal
check as shipped, off, and forced at every slice gap.

    python benchmarks/emidec_sparse_scar.py EMIDEC_DIR [--split train] [--methods cmpunet,ewa]
        [--modes native,sparse,x2,x2sparse] [--checks shipped,off,forced] [--param variant=textbook]

Defaults measure the training exams (the held-out ones stay for the held-out figures).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

CHECKS = ("shipped", "off", "forced")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir")
    parser.add_argument("--split", choices=("train", "test"), default="train")
    parser.add_argument("--methods", default="cmpunet,ewa")
    parser.add_argument("--modes", default="native,sparse",
                        help="exports from benchmarks/emidec_robustness.py, e.g. native,sparse,x2,x2sparse")
    parser.add_argument("--checks", default=",".join(CHECKS), help="basal check: shipped, off, forced")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="for every chosen method that has it (e.g. variant=textbook)")
    args = parser.parse_args(argv)
    from emidec_robustness import transformed
    from LVScarSegLogic import labels as L
    from LVScarSegLogic.datasets import emidec_split, find_cases, load_case
    from LVScarSegLogic.geometry import Grid
    from LVScarSegLogic.methods import postprocess, registry
    from LVScarSegLogic.methods.runner import run_scar_method
    from LVScarSegLogic.metrics import compare_masks

    methods = [registry.get(m, "scar") for m in args.methods.split(",") if m]
    # each --param goes to the methods that have it
    params = {m.name: registry.resolve_params([m], [p for p in args.param if p.split("=")[0] in m.defaults()])[m.name]
              for m in methods}
    cases = find_cases(args.data_dir)
    cases = [c for c in cases if emidec_split(c, cases) == args.split]
    shipped_gap = postprocess.BASAL_CHECK_MAX_GAP_MM
    scores = {}
    for case in cases:
        image, truth, grid = load_case(case)
        for mode in args.modes.split(","):
            im, (wall, ref), spacing = transformed(image.astype(np.float32), (L.lv_myocardium(truth), L.infarct(truth)),
                                                   grid.spacing, mode)
            if not wall.any():
                continue
            g = Grid.make(im.shape, spacing, grid.origin, grid.direction_matrix)
            for m in methods:
                for check in args.checks.split(","):
                    values = dict(params[m.name])
                    if "basal_check" in values:
                        values["basal_check"] = check != "off"
                    postprocess.BASAL_CHECK_MAX_GAP_MM = np.inf if check == "forced" else shipped_gap
                    try:
                        infarct = run_scar_method(m, im, wall, g, values).infarct
                    finally:
                        postprocess.BASAL_CHECK_MAX_GAP_MM = shipped_gap
                    cell = scores.setdefault((m.name, mode, check), ([], []))
                    if ref.any():
                        cell[0].append(compare_masks(infarct, ref, spacing)["dice"])
                    else:
                        cell[1].append(100.0 * infarct.sum() / wall.sum())
    print(f"EMIDEC {args.split} exams, expert wall; infarct Dice (exams with infarct) / healthy exams' "
          "% of the wall called infarct, mean (worst)\n")
    print("| method | slices | basal check | infarct Dice | healthy % |\n|---|---|---|---|---|")
    for (name, mode, check), (dice, healthy) in scores.items():
        h = f"{np.mean(healthy):.2f} ({max(healthy):.2f})" if healthy else "-"
        print(f"| `{name}` | {mode} | {check} | {np.mean(dice):.3f} (n={len(dice)}) | {h} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
