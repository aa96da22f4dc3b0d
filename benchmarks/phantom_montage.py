"""Montage of phantom short-axis slices next to real EMIDEC slices (README figure).

Run: ``python benchmarks/phantom_montage.py [--emidec DIR] [-o PNG]``. Phantom slices of every
protocol are resampled onto a mid-ventricular short-axis plane from the case's known heart axes
(as a reader would reformat them). EMIDEC images are CC BY-NC-SA 4.0 (Lalande et al., Data 2020).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
COLORS = {2: (220, 60, 60), 3: (255, 236, 70), 4: (80, 120, 255), 5: (241, 150, 40), 1: (90, 160, 255)}
TILE = 200


def _window(a: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(a, [1, 99.5])
    return np.clip((a - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8)


def _overlay(gray: np.ndarray, codes: np.ndarray) -> np.ndarray:
    rgb = np.repeat(gray[..., None], 3, axis=2)
    for code, color in COLORS.items():
        m = codes == code
        edge = m & ~ndi.binary_erosion(m)
        rgb[edge] = color
    return rgb


def sax_plane(image, codes, grid, meta, u=0.45, fov_mm=110.0, px=TILE):
    """Resample a short-axis plane at depth u (0 base, 1 apex): septum left, anterior up."""
    axes = np.array(meta["heart_axes_lps"]).T  # columns x (septum), y (anterior), z (to base)
    base = np.array(meta["heart_base_centre_lps"])
    depth = meta["heart"]["c_endo"] * (1 + meta["heart"]["base_offset"])
    centre = base - u * depth * axes[:, 2]
    s = (np.arange(px) - px / 2 + 0.5) * fov_mm / px
    cols, rows = np.meshgrid(s, s)
    pts = centre + (-cols.ravel())[:, None] * axes[:, 0] + (-rows.ravel())[:, None] * axes[:, 1]
    ijk = grid.lps_to_ijk(pts)
    coords = [ijk[:, 2], ijk[:, 1], ijk[:, 0]]
    img = ndi.map_coordinates(image.astype(np.float32), coords, order=1, mode="nearest").reshape(px, px)
    lab = ndi.map_coordinates(codes, coords, order=0, mode="nearest").reshape(px, px)
    return img, lab


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--emidec", default=str(ROOT.parent / "shared" / "data" / "emidec-png"))
    ap.add_argument("-o", "--output", default=str(ROOT / "Resources" / "Media" / "phantom_vs_emidec.png"))
    args = ap.parse_args()
    from LVScarSegLogic.phantom.cases import make_case

    tiles, captions = [], []
    emidec = Path(args.emidec)
    names = ["Case_P005_slice003.png", "Case_P015_slice001.png", "Case_P038_slice001.png", "Case_N046_slice003.png"]
    for name in names:
        img = np.array(Image.open(emidec / "train" / name).convert("L"))
        lab = np.array(Image.open(emidec / "trainannot" / name))
        ys, xs = np.nonzero(lab > 0)
        cy, cx = int(ys.mean()), int(xs.mean())
        h = 36  # EMIDEC pixels are ~1.4-2 mm: a ~100-140 mm window like the phantom tiles
        crop = (slice(max(cy - h, 0), cy + h), slice(max(cx - h, 0), cx + h))
        g = _window(np.array(Image.fromarray(img[crop]).resize((TILE, TILE), Image.BILINEAR)).astype(float))
        lb = np.array(Image.fromarray(lab[crop]).resize((TILE, TILE), Image.NEAREST))
        tiles.append((g, lb))
        captions.append(f"EMIDEC {name[5:9]}")
    for seed, index, protocol in ((1, 2, "2d-stack"), (1, 0, "3d-highres"), (2, 1, "3d-iso"), (3, 3, "large-fov")):
        image, codes, grid, meta = make_case(seed, index, protocol, healthy=False)
        img, lab = sax_plane(image, codes, grid, meta)
        tiles.append((_window(img), lab))
        captions.append(f"phantom {protocol} CNR {meta['cnr']:.0f}")
    pad, head = 4, 16
    canvas = Image.new("RGB", (4 * (TILE + pad) + pad, 4 * (TILE + pad + head) + pad), (0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    for n, ((g, lb), cap) in enumerate(zip(tiles, captions)):
        col, block = n % 4, n // 4
        for r, arr in enumerate((np.repeat(g[..., None], 3, 2), _overlay(g, lb))):
            x = pad + col * (TILE + pad)
            y = pad + (2 * block + r) * (TILE + pad + head) + head
            canvas.paste(Image.fromarray(arr.astype(np.uint8)), (x, y))
            draw.text((x + 2, y - head + 2), cap + (" + labels" if r else ""), fill=(230, 230, 230))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    canvas.save(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
