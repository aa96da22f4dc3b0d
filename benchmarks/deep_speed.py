"""Time fully automatic deep-learning segmentation in memory (no file I/O, so it also runs where
SimpleITK is not installed, e.g. on a GPU machine): localizer + myocardium network + scar network
on a 240 x 240 x 104 phantom, after one warm-up run.

    python benchmarks/deep_speed.py --device cuda [--myocardium cmpunet --scar cmpunet]

The command-line figure that includes start-up, model loading and I/O is measured by
benchmarks/speed.py (`make bench`).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="auto")
    ap.add_argument("--myocardium", default=None)
    ap.add_argument("--scar", default="cmpunet")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    import numpy as np
    import torch

    from LVScarSegLogic import labels as L
    from LVScarSegLogic.methods import registry
    from LVScarSegLogic.methods.runner import run_scar_method
    from LVScarSegLogic.phantom.cases import make_case

    image, codes, grid, _ = make_case(4242, 0, "3d-highres")
    image, codes = image[8:112, 8:248, 8:248], codes[8:112, 8:248, 8:248]
    myo_method = registry.get(a.myocardium or registry.default_method("myocardium"), "myocardium")
    scar_method = registry.get(a.scar, "scar")
    print(f"volume {image.shape[::-1]} (i, j, k), device {a.device}, torch {torch.__version__}, "
          f"{torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU'}")
    times = []
    for run in range(a.runs + 1):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out, _, _, _ = myo_method.function()(image, grid.spacing, device=a.device)
        wall = out == L.MYOCARDIUM
        t1 = time.perf_counter()
        res = run_scar_method(scar_method, image, wall, grid, scar_method.defaults(), device=a.device)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        truth = np.isin(codes, L.LV_MYOCARDIUM_CODES)
        dice = 2 * (wall & truth).sum() / max(wall.sum() + truth.sum(), 1)
        inf_t = np.isin(codes, L.INFARCT_CODES)
        sdice = 2 * (res.scar & inf_t).sum() / max(res.scar.sum() + inf_t.sum(), 1)
        label = "warm-up (model loading)" if run == 0 else f"run {run}"
        print(f"{label}: myocardium {myo_method.name} {t1 - t0:.2f} s, scar {scar_method.name} {t2 - t1:.2f} s, "
              f"total {t2 - t0:.2f} s; myocardium Dice {dice:.3f}, infarct Dice {sdice:.3f}")
        if run:
            times.append(t2 - t0)
    print(f"median total {sorted(times)[len(times) // 2]:.2f} s")
    if torch.cuda.is_available():
        print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
