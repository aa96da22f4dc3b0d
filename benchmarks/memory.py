"""Peak memory (RSS) of `lvscarseg segment` against volume size, classical (strm with a given
myocardium) and fully automatic deep learning (default models, CPU), in fresh processes.

The volumes are a phantom case (3d-highres geometry) resampled to each size, with its truth as
the myocardium, so the heart fills the same fraction of the field of view at every size.

    python benchmarks/memory.py [--sizes 200x200x100,300x300x150,400x400x200]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_volume(size, folder: Path):
    import numpy as np
    from scipy import ndimage as ndi

    from LVScarSegLogic.geometry import Grid
    from LVScarSegLogic.phantom.cases import make_case
    from LVScarSegLogic.volume import write_volume

    image, codes, grid, _ = make_case(77, 0, "3d-highres")
    shape = (size[2], size[1], size[0])
    factors = [n / m for n, m in zip(shape, image.shape)]
    img = ndi.zoom(image, factors, order=1).astype(np.float32)
    lab = ndi.zoom(codes, factors, order=0).astype(np.uint8)
    spacing = [s / f for s, f in zip(grid.spacing, factors[::-1])]
    g = Grid.make(img.shape, spacing, grid.origin, grid.direction_matrix)
    name = "x".join(map(str, size))
    write_volume(folder / f"{name}.nrrd", img, g)
    write_volume(folder / f"{name}_label.nrrd", lab, g)
    return folder / f"{name}.nrrd", folder / f"{name}_label.nrrd"


def peak_rss_mb(cmd) -> tuple:
    """(peak RSS in MB, wall seconds) of one command, measured by GNU time (%M, kB)."""
    t = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "PEAK_KB %M"] + list(map(str, cmd)), capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n{r.stderr[-2000:]}")
    kb = int([ln for ln in r.stderr.splitlines() if ln.startswith("PEAK_KB")][-1].split()[1])
    return kb / 1024.0, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="200x200x100,300x300x150,400x400x200")
    ap.add_argument("--no-deep", action="store_true")
    a = ap.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in a.sizes.split(",")]
    lvs = [sys.executable, "-m", "LVScarSegLogic", "--quiet", "segment"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for size in sizes:
            image, label = make_volume(size, tmp)
            mb, s = peak_rss_mb(lvs + [str(image), "--myocardium", str(label), "--scar-method", "strm", "-o",
                                       str(tmp / "c.seg.nrrd")])
            rows.append((size, "strm, given myocardium", mb, s))
            print(f"{size}: classical {mb:.0f} MB, {s:.1f} s", flush=True)
        if not a.no_deep:
            for size in sizes:
                image = tmp / f"{'x'.join(map(str, size))}.nrrd"
                mb, s = peak_rss_mb(lvs + [str(image), "--device", "cpu", "-o", str(tmp / "d.seg.nrrd")])
                rows.append((size, "fully automatic (cmpunet + cmpunet)", mb, s))
                print(f"{size}: deep learning {mb:.0f} MB, {s:.1f} s", flush=True)
    print("\n| volume (voxels) | pipeline | peak RSS (MB) | wall time (s) |\n|---|---|---|---|")
    for size, what, mb, s in rows:
        n = size[0] * size[1] * size[2] / 1e6
        print(f"| {size[0]}x{size[1]}x{size[2]} ({n:.0f} M) | {what} | {mb:.0f} | {s:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
