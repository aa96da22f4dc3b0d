"""Fully automatic LV wall Dice on real EMIDEC exams as other scanners would export them: at
their own 1.5 mm pixels; resampled to 0.75 mm (a matrix twice as wide, as 0.73-mm multi-centre
stacks have); that, padded to a 144 mm wider field of view with Rayleigh background noise; a
gamma of 0.6 or 1.6 on a 0-4000 scale; a 16-bit style linear rescale (x37 + 200); and every
second slice only (20 mm apart, as the 12-23 mm stacks of 2-6 slices elsewhere), at 1.5 or 0.75 mm.

    python benchmarks/emidec_robustness.py EMIDEC_DIR [--split train] [--every 8] [--modes native,x2,...]

Defaults measure every 8th training exam (the held-out ones stay for the held-out figures). The
default myocardium method and models; the true wall is transformed with the image (nearest
neighbour), so Dice is on the transformed grid.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODES = ("native", "x2", "x2pad", "gamma0.6", "gamma1.6", "wide16", "sparse", "x2sparse")
PAD_VOXELS = 48  # each side, at 0.75 mm: 72 mm


def transformed(image: np.ndarray, wall: np.ndarray, spacing_ijk, mode: str):
    """(image, wall, spacing_ijk) as ``mode`` exports them; arrays (k, j, i)."""
    from scipy import ndimage as ndi

    spacing = np.asarray(spacing_ijk, dtype=float)
    if mode.startswith("x2"):
        image = ndi.zoom(image, (1, 2, 2), order=1).astype(np.float32)
        wall = ndi.zoom(wall.astype(np.uint8), (1, 2, 2), order=0).astype(bool)
        spacing = spacing.copy()
        spacing[:2] /= 2
    if mode == "x2pad":
        pad = ((0, 0), (PAD_VOXELS,) * 2, (PAD_VOXELS,) * 2)
        image = np.pad(image, pad)
        image = image + np.random.default_rng(0).rayleigh(3, image.shape).astype(np.float32)
        wall = np.pad(wall, pad)
    if mode.startswith("gamma"):
        lo, hi = np.percentile(image, (0, 99.9))
        image = (np.clip((image - lo) / (hi - lo), 0, 1) ** float(mode[5:]) * 4000).astype(np.float32)
    if mode == "wide16":
        image = (image * 37.0 + 200).astype(np.float32)
    if mode.endswith("sparse"):  # every second slice, from the second: the stack's ends change too
        image, wall = image[1::2], wall[1::2]
        spacing = spacing.copy()
        spacing[2] *= 2
    return image, wall, tuple(spacing)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir")
    parser.add_argument("--split", choices=("train", "test"), default="train")
    parser.add_argument("--every", type=int, default=8, help="every n-th exam of the split")
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args(argv)
    from LVScarSegLogic import labels as L
    from LVScarSegLogic.datasets import emidec_split, find_cases, load_case
    from LVScarSegLogic.methods import registry
    from LVScarSegLogic.metrics import compare_masks

    modes = [m for m in args.modes.split(",") if m]
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        parser.error(f"--modes: unknown {', '.join(unknown)} (known: {', '.join(MODES)})")
    myo = registry.get(registry.default_method("myocardium"), "myocardium")
    cases = find_cases(args.data_dir)
    cases = [c for c in cases if emidec_split(c, cases) == args.split][::args.every]
    scores = {m: [] for m in modes}
    print("| exam | " + " | ".join(modes) + " |\n|---|" + "---|" * len(modes))
    for case in cases:
        image, truth, grid = load_case(case)
        true_wall = L.lv_myocardium(truth)
        cells = []
        for mode in modes:
            im, wall, spacing = transformed(image, true_wall, grid.spacing, mode)
            t = time.perf_counter()
            codes, _, _, _ = myo.function()(im, spacing, device="cpu")
            dice = compare_masks(L.lv_myocardium(codes), wall, spacing)["dice"]
            scores[mode].append(dice)
            cells.append(f"{dice:.3f} ({time.perf_counter() - t:.1f} s)")
        print(f"| {case.name} | " + " | ".join(cells) + " |", flush=True)
    print("| mean | " + " | ".join(f"{np.mean(v):.3f}" for v in scores.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
