"""Start-up and scar-method speed on a 256 x 256 x 120 phantom volume with a given myocardium.

Run: ``make bench`` (or ``python benchmarks/speed.py [--runs N]``). Each figure is the median of
N fresh processes: wall time with start-up, the scar method's own time from the report, and
the peak resident memory of the process.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(cmd, env):
    """Wall seconds and peak RSS (MB) of one child process."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n{err}")
    return wall, usage.ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    from LVScarSegLogic.methods import registry

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # The phantom is made in a child process: this process stays small, so the peak memory
        # that later children inherit from it (fork) does not hide theirs.
        make = ("from LVScarSegLogic.phantom.cases import make_case\n"
                "from LVScarSegLogic.volume import write_volume\n"
                "i, c, g, m = make_case(seed=99, index=0, protocol='3d-highres', healthy=False, hard=False)\n"
                f"write_volume(r'{tmp / 'lge.nrrd'}', i, g); write_volume(r'{tmp / 'myo.nrrd'}', c, g)\n"
                "print(g.describe(), f'({i.size / 1e6:.1f} M voxels)')\n")
        described = subprocess.run([py, "-c", make], env=env, capture_output=True, text=True, check=True).stdout
        print(f"volume: {described.strip()}, python {sys.version.split()[0]}, {os.cpu_count()} CPU(s)\n")
        rows = []
        runs = [("import LVScarSegLogic", [py, "-c", "import LVScarSegLogic"], None),
                ("lvscarseg methods", [py, "-m", "LVScarSegLogic", "methods"], None)]
        for m in registry.methods("scar"):
            report = tmp / f"{m.name}.json"
            runs.append((f"lvscarseg segment --scar-method {m.name}",
                         [py, "-m", "LVScarSegLogic", "--quiet", "segment", str(tmp / "lge.nrrd"), "--myocardium",
                          str(tmp / "myo.nrrd"), "--scar-method", m.name, "-o", str(tmp / "out.seg.nrrd"),
                          "--report", str(report)], report))
        for name, cmd, report in runs:
            results, method_s = [], []
            for _ in range(args.runs):
                results.append(timed(cmd, env))
                if report is not None:
                    method_s.append(json.loads(report.read_text())["timing_s"]["scar"])
            rows.append((name, statistics.median(r[0] for r in results), max(r[1] for r in results),
                         statistics.median(method_s) if method_s else None))
        print("| command | wall time, start-up included (s) | of which the scar method (s) | peak RSS (MB) |")
        print("|---|---|---|---|")
        for name, wall, rss, method in rows:
            print(f"| `{name}` | {wall:.2f} | {'' if method is None else f'{method:.2f}'} | {rss:.0f} |")


if __name__ == "__main__":
    main()
