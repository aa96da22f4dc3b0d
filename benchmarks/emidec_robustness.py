"""Fully automatic LV wall Dice on real EMIDEC exams as other scanners would export them: at
their own 1.5 mm pixels; resampled to 0.75 mm (a matrix twice as wide, as 0.73-mm multi-centre
stacks have); that, padded to a 144 mm wider field of view with Rayleigh background noise; a
gamma of 0.6 or 1.6 on a 0-4000 scale; a 16-bit style linear rescale (x37 + 200); and every
second slice only (20 mm apart, as the 12-23 mm stacks of 2-6 slices elsewhere), at 1.5 or 0.75 mm, and
at 0.75 mm in the wider field of view (x2padsparse: closest to multi-centre stacks of 2-6
slices at 0.73 mm and 350 mm); mirrored in-plane (flip), turned by 90 degrees in-plane (rot90), and
with the slices in the opposite order (reversed), as other scanners and exports orient a stack.
``--scar`` adds the default scar method behind the model's wall.

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

MODES = ("native", "x2", "x2pad", "gamma0.6", "gamma1.6", "wide16", "sparse", "x2sparse", "x2padsparse",
         "flip", "rot90", "reversed")
PAD_VOXELS = 48  # each side, at 0.75 mm: 72 mm


def transformed(image: np.ndarray, masks, spacing_ijk, mode: str):
    """(image, masks, spacing_ijk) as ``mode`` exports them; ``masks`` one boolean array or a tuple
    of them (returned alike); arrays (k, j, i)."""
    from scipy import ndimage as ndi

    single = isinstance(masks, np.ndarray)
    masks = [masks] if single else list(masks)
    spacing = np.asarray(spacing_ijk, dtype=float)
    if mode.startswith("x2"):
        image = ndi.zoom(image, (1, 2, 2), order=1).astype(np.float32)
        masks = [ndi.zoom(m.astype(np.uint8), (1, 2, 2), order=0).astype(bool) for m in masks]
        spacing = spacing.copy()
        spacing[:2] /= 2
    if mode.startswith("x2pad"):
        pad = ((0, 0), (PAD_VOXELS,) * 2, (PAD_VOXELS,) * 2)
        image = np.pad(image, pad)
        image = image + np.random.default_rng(0).rayleigh(3, image.shape).astype(np.float32)
        masks = [np.pad(m, pad) for m in masks]
    if mode.startswith("gamma"):
        lo, hi = np.percentile(image, (0, 99.9))
        image = (np.clip((image - lo) / (hi - lo), 0, 1) ** float(mode[5:]) * 4000).astype(np.float32)
    if mode == "wide16":
        image = (image * 37.0 + 200).astype(np.float32)
    if mode == "flip":  # mirrored in-plane (the RV on the other side of the septum)
        image, masks = image[:, :, ::-1].copy(), [m[:, :, ::-1].copy() for m in masks]
    if mode == "rot90":  # rows and columns swapped and one of them reversed (another in-plane orientation)
        image = np.rot90(image, 1, axes=(1, 2)).copy()
        masks = [np.rot90(m, 1, axes=(1, 2)).copy() for m in masks]
        spacing = spacing[[1, 0, 2]]
    if mode == "reversed":  # the slices stored in the opposite order (scanners and exports differ)
        image, masks = image[::-1].copy(), [m[::-1].copy() for m in masks]
    if mode.endswith("sparse"):  # every second slice, from the second: the stack's ends change too
        image, masks = image[1::2], [m[1::2] for m in masks]
        spacing = spacing.copy()
        spacing[2] *= 2
    return image, masks[0] if single else tuple(masks), tuple(spacing)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir")
    parser.add_argument("--split", choices=("train", "test"), default="train")
    parser.add_argument("--every", type=int, default=8, help="every n-th exam of the split")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--scar", action="store_true",
                        help="also the default scar method behind the model's wall: fully automatic infarct Dice "
                             "(infarct exams) and the % of the wall called infarct (healthy exams), a second table")
    args = parser.parse_args(argv)
    from LVScarSegLogic import labels as L
    from LVScarSegLogic.datasets import emidec_split, find_cases, load_case
    from LVScarSegLogic.geometry import Grid
    from LVScarSegLogic.methods import registry
    from LVScarSegLogic.methods.runner import run_scar_method
    from LVScarSegLogic.metrics import compare_masks

    modes = [m for m in args.modes.split(",") if m]
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        parser.error(f"--modes: unknown {', '.join(unknown)} (known: {', '.join(MODES)})")
    myo = registry.get(registry.default_method("myocardium"), "myocardium")
    cases = find_cases(args.data_dir)
    cases = [c for c in cases if emidec_split(c, cases) == args.split][::args.every]
    scar = registry.get(registry.default_method("scar"), "scar")
    scores = {m: [] for m in modes}
    infarct_dice = {m: [] for m in modes}
    healthy_percent = {m: [] for m in modes}
    print("| exam | " + " | ".join(modes) + " |\n|---|" + "---|" * len(modes))
    for case in cases:
        image, truth, grid = load_case(case)
        true_wall = L.lv_myocardium(truth)
        cells = []
        for mode in modes:
            im, (wall, ref), spacing = transformed(image, (true_wall, L.infarct(truth)), grid.spacing, mode)
            t = time.perf_counter()
            codes, _, _, _ = myo.function()(im, spacing, device="cpu")
            dice = compare_masks(L.lv_myocardium(codes), wall, spacing)["dice"]
            scores[mode].append(dice)
            cells.append(f"{dice:.3f} ({time.perf_counter() - t:.1f} s)")
            if args.scar:
                model_wall = L.lv_myocardium(codes)
                found = (run_scar_method(scar, im, model_wall, Grid.make(im.shape, spacing, (0, 0, 0), np.eye(3)),
                                         scar.defaults(), device="cpu", wall_given=False).infarct
                         if model_wall.any() else np.zeros_like(model_wall))
                if ref.any():
                    infarct_dice[mode].append(compare_masks(found, ref, spacing)["dice"])
                else:
                    healthy_percent[mode].append(100.0 * found.sum() / max(int(model_wall.sum()), 1))
        print(f"| {case.name} | " + " | ".join(cells) + " |", flush=True)
    print("| mean | " + " | ".join(f"{np.mean(v):.3f}" for v in scores.values()) + " |")
    if args.scar:
        print(f"\nFully automatic {scar.name} infarct Dice (infarct exams, mean) and % of the wall called infarct "
              "(healthy exams, mean / worst):\n\n| | " + " | ".join(modes) + " |\n|---|" + "---|" * len(modes))
        print("| infarct Dice | " + " | ".join(f"{np.mean(infarct_dice[m]):.3f}" for m in modes) + " |")
        print("| healthy % | " + " | ".join(f"{np.mean(healthy_percent[m]):.1f} / {np.max(healthy_percent[m]):.1f}"
                                           if healthy_percent[m] else "-" for m in modes) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
