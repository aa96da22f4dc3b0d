"""The border guard (methods/postprocess.py ``border_guard``) on data this project did not make,
and on its own phantoms: which depth, and whether a thick-slice stack's neighbouring slices count.

Each form runs the textbook-family methods (fwhm, strm, otsu, region-growing) over:
- EMIDEC's training exams (real LGE, expert wall) - where the form is chosen -, then its held-out
  exams;
- the second phantom style (``benchmarks/label_phantoms.py``: EMIDEC label maps, random
  appearance) from the training exams' labels (chosen there) and from the held-out ones, with an
  observer-like wall;
- this project's held-out phantoms (``make benchmark-phantoms``' set), observer wall.
Cells: mean infarct Dice over the cases with infarct; healthy cases' mean / worst % of the wall
called infarct. Also the textbook forms (``variant=textbook``) for reference.

    python benchmarks/label_phantoms.py --split train --seed 1 -o build/label-phantoms-train
    python benchmarks/label_phantoms.py --split test -o build/label-phantoms
    python benchmarks/border_guard.py [-o benchmarks/results/border_guard.md]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

METHODS = ("fwhm", "strm", "otsu", "region-growing")
FORMS = {"2 voxels + neighbouring slices (before)": (2, True), "2 voxels, in-plane": (2, False),
         "1 voxel + neighbouring slices": (1, True), "1 voxel, in-plane (default)": (1, False),
         "off (endo_guard=false)": None, "textbook (variant=textbook)": "textbook"}


def sets(emidec: Path):
    return [("EMIDEC train (choice)", emidec, "truth", "train"),
            ("label phantoms, train labels (choice)", ROOT / "build" / "label-phantoms-train", "observer", "all"),
            ("EMIDEC held-out", emidec, "truth", "test"),
            ("label phantoms, held-out labels", ROOT / "build" / "label-phantoms", "observer", "all"),
            ("own phantoms (seed 500)", ROOT / "build" / "bench-phantoms", "observer", "all")]


def score(rows):
    """(mean infarct Dice of cases with infarct, healthy mean %, healthy worst %) per method."""
    out = {}
    for m in METHODS:
        sick = [r["dice"] for r in rows if r["method"] == m and not r["healthy"]]
        healthy = [r["scar_percent_of_wall"] for r in rows if r["method"] == m and r["healthy"]]
        out[m] = (float(np.mean(sick)) if sick else float("nan"),
                  float(np.mean(healthy)) if healthy else float("nan"),
                  float(np.max(healthy)) if healthy else float("nan"))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--emidec", default=str(ROOT.parent / "shared" / "data" / "emidec-png"))
    ap.add_argument("-o", "--output", default=str(ROOT / "benchmarks" / "results" / "border_guard.md"))
    a = ap.parse_args(argv)
    from LVScarSegLogic import benchmark
    from LVScarSegLogic.methods import postprocess, registry

    lines = ["# The border guard on data this project did not make", "",
             "Made by `python benchmarks/border_guard.py` (its docstring says how the data sets are made).",
             "Cells: infarct Dice (mean over cases with infarct) / healthy cases' mean and worst % of the "
             "wall called infarct.", ""]
    default_form = postprocess.GUARD_DEPTH, postprocess.GUARD_THROUGH_PLANE
    for title, folder, wall, split in sets(Path(a.emidec)):
        if not Path(folder).is_dir():
            lines += [f"## {title}", "", f"(missing: {folder})", ""]
            continue
        lines += [f"## {title} ({wall} wall)", "", "| form | " + " | ".join(METHODS) + " |",
                  "|---" * (len(METHODS) + 1) + "|"]
        for form, setting in FORMS.items():
            params = {m: dict(registry.resolve_params([registry.get(m, "scar")], [])[m]) for m in METHODS}
            if setting == "textbook":
                for m in METHODS:
                    params[m]["variant"] = "textbook"
            elif setting is None:
                for m in METHODS:
                    params[m]["endo_guard"] = False
            else:
                postprocess.GUARD_DEPTH, postprocess.GUARD_THROUGH_PLANE = setting
            rows = benchmark.run(folder, METHODS, wall, params=params, split=split)
            postprocess.GUARD_DEPTH, postprocess.GUARD_THROUGH_PLANE = default_form
            cells = [f"{d:.2f} ({hm:.1f} / {hw:.0f} %)" for d, hm, hw in score(rows).values()]
            lines.append(f"| {form} | " + " | ".join(cells) + " |")
            print(title, form, cells, flush=True)
        lines.append("")
    Path(a.output).write_text("\n".join(lines) + "\n")
    print(f"written: {a.output}")


if __name__ == "__main__":
    main()
