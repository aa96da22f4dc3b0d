"""Train every shipped deep-learning model at once: phantoms generated once into a cache, then
one `lvscarseg train` process per task, all in parallel (one GPU holds them all; on CPU give
--parallel 1). Used for the models in Resources/Models (see their model cards):

    python benchmarks/train_models.py --out build/models --time-limit 300 --workers 16 \
        --emidec ../shared/data/emidec-png

EMIDEC (CC BY-NC-SA) is used only for the extra *-emidec models, never for the default ones.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# task -> (batch, learning rate)
SETTINGS = {
    "lv-localizer": (8, 1e-3), "myocardium-unet": (4, 1e-3), "myocardium-cmpunet": (32, 2e-3),
    "myocardium-gan": (32, 2e-3), "scar-cnn": (32, 2e-3), "scar-unet": (4, 1e-3), "scar-cmpunet": (32, 2e-3),
    "scar-gan": (32, 2e-3),
}
EMIDEC_VARIANTS = ("lv-localizer", "myocardium-cmpunet", "scar-cmpunet")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--tasks", default=",".join(SETTINGS))
    ap.add_argument("--phantoms", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--val-cases", type=int, default=4)
    ap.add_argument("--protocols", default="3d-highres,3d-iso,2d-stack,large-fov")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--time-limit", type=float, default=300.0, help="training seconds per model")
    ap.add_argument("--steps", type=int, default=100000)
    ap.add_argument("--val-every", type=int, default=250)
    ap.add_argument("--parallel", type=int, default=16)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--emidec", help="EMIDEC PNG export: also train the *-emidec variants")
    ap.add_argument("--cache", help="prepared-case cache (default OUT/cache)")
    a = ap.parse_args()

    from LVScarSegLogic.deep.data import phantom_cases

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(a.cache) if a.cache else out / "cache"
    protocols = tuple(a.protocols.split(","))
    t0 = time.time()
    phantom_cases(a.phantoms, a.seed, protocols, a.workers, cache)
    phantom_cases(a.val_cases, a.seed + 1, protocols, a.workers, cache)
    print(f"phantoms ready in {time.time() - t0:.0f} s", flush=True)

    jobs = [(t, t, []) for t in a.tasks.split(",")]
    if a.emidec:
        jobs += [(f"{t}-emidec", t, ["--data", a.emidec]) for t in EMIDEC_VARIANTS if t in a.tasks.split(",")]
    running, finished = [], []
    env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONUNBUFFERED="1")
    for name, task, extra in jobs:
        while len(running) >= a.parallel:
            time.sleep(1)
            running = [(n, p, f) for n, p, f in running if p.poll() is None or finished.append((n, p.returncode))]
        batch, lr = SETTINGS[task]
        cmd = [sys.executable, "-m", "LVScarSegLogic", "train", "--task", task, "-o", str(out / f"{name}.safetensors"),
               "--phantoms", str(a.phantoms), "--phantom-seed", str(a.seed), "--protocols", a.protocols,
               "--val-cases", str(a.val_cases), "--steps", str(a.steps), "--batch", str(batch), "--lr", str(lr),
               "--val-every", str(a.val_every), "--patience", "8", "--time-limit", str(a.time_limit),
               "--cache", str(cache), "--device", a.device, "--checkpoint-dir", str(out / "checkpoints" / name),
               "--checkpoint-every", "500"] + extra
        log = open(out / f"{name}.log", "w")
        running.append((name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(ROOT)), log))
    for name, proc, log in running:
        finished.append((name, proc.wait()))
        log.close()
    failed = [n for n, rc in finished if rc != 0]
    print(f"trained {len(finished) - len(failed)} models in {time.time() - t0:.0f} s; failed: {failed or 'none'}")
    for name, _, _ in jobs:
        lines = (out / f"{name}.log").read_text().strip().splitlines()
        print(f"{name}: {lines[-1] if lines else '(no output)'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
