"""The partial-volume-weighted infarct size (measure.pv_weighted_infarct, Heiberg 2008) against the
binary size, on EMIDEC's held-out infarct exams with the expert's wall: how far each is from the
expert's (binary) infarct volume, per classical method. Needs ../shared/data/emidec-png.

    python benchmarks/pv_weighted_emidec.py [--methods otsu,strm,fwhm]
"""
import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from LVScarSegLogic import labels as L  # noqa: E402
from LVScarSegLogic.datasets import emidec_split, find_cases, load_case  # noqa: E402
from LVScarSegLogic.measure import pv_weighted_infarct  # noqa: E402
from LVScarSegLogic.methods import registry  # noqa: E402
from LVScarSegLogic.methods.runner import run_scar_method  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", default="otsu,strm,fwhm")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "emidec-png"))
    a = ap.parse_args()
    cases = find_cases(a.data)
    held_out = [c for c in cases if emidec_split(c, cases) == "test" and not c.meta.get("healthy")]
    print(f"{len(held_out)} held-out EMIDEC infarct exams, expert wall")
    print("method  mean |binary - expert| mL  mean |PV-weighted - expert| mL  bias binary  bias PV-weighted")
    for name in a.methods.split(","):
        method = registry.get(name, "scar")
        rows = []
        for case in held_out:
            image, codes, grid = load_case(case)
            wall = L.lv_myocardium(codes)
            res = run_scar_method(method, image.astype(np.float32), wall, grid, method.defaults())
            pred = np.where(wall, L.MYOCARDIUM, np.where(codes == L.BLOODPOOL, L.BLOODPOOL, 0)).astype(np.uint8)
            if res.grayzone is not None:
                pred[res.grayzone & wall] = L.GRAYZONE
            pred[res.scar & wall] = L.SCAR
            if res.mvo is not None:
                pred[res.mvo & wall] = L.MVO
            pv = pv_weighted_infarct(image, pred, grid)
            v = grid.voxel_volume_ml
            rows.append((L.infarct(codes).sum() * v, L.infarct(pred).sum() * v, pv["ml"] if pv else 0.0))
        r = np.array(rows)
        print(f"{name:<7} {np.abs(r[:, 1] - r[:, 0]).mean():25.2f} {np.abs(r[:, 2] - r[:, 0]).mean():31.2f} "
              f"{(r[:, 1] - r[:, 0]).mean():12.2f} {(r[:, 2] - r[:, 0]).mean():16.2f}")


if __name__ == "__main__":
    main()
