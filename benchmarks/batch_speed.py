"""`lvscarseg batch` speed-up with --jobs: 20 phantom cases, --jobs 1 then --jobs 2 (fresh output
folders), fully automatic by default (or --myocardium-dir with a classical method: --classical).

    python benchmarks/batch_speed.py [--cases 20] [--classical]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=20)
    ap.add_argument("--protocol", default="3d-lowres")
    ap.add_argument("--classical", action="store_true", help="given myocardium, scar method strm")
    a = ap.parse_args()
    lvs = [sys.executable, "-m", "LVScarSegLogic", "--quiet"]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "cases"
        subprocess.run(lvs + ["phantom", str(data), "--cases", str(a.cases), "--seed", "808", "--protocol", a.protocol],
                       check=True, stdout=subprocess.DEVNULL)
        extra = ["--myocardium-dir", str(data / "labels"), "--scar-method", "strm"] if a.classical else []
        times = {}
        for jobs in (1, 2):
            out = Path(tmp) / f"out{jobs}"
            t = time.perf_counter()
            subprocess.run(lvs + ["batch", str(data), "-o", str(out), "--jobs", str(jobs)] + extra, check=True,
                           stdout=subprocess.DEVNULL)
            times[jobs] = time.perf_counter() - t
            shutil.rmtree(out)
    mode = "classical (strm, given myocardium)" if a.classical else "fully automatic (default models)"
    print(f"{a.cases} {a.protocol} cases, {mode}: --jobs 1 {times[1]:.1f} s, --jobs 2 {times[2]:.1f} s, "
          f"speed-up {times[1] / times[2]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
