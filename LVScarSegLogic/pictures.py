"""Pictures a reader checks at a glance: the AHA bull's-eye and a QA montage of short-axis slices
with the contours over the image. matplotlib (Agg, no display) is imported only here."""
from __future__ import annotations

from typing import Dict, List

import numpy as np

from . import labels as L
from .files import atomic_output
from .geometry import THICK_SLICE_RATIO, thick_slice_axis

# Bull's-eye layout (standard): anterior (1, 7, 13) at the top, septum on the left, lateral on the right.
_RINGS = ((range(1, 7), 0.75, 1.0, 60.0), (range(7, 13), 0.5, 0.75, 60.0), (range(13, 17), 0.25, 0.5, 90.0))
_CONTOURS = ((L.BLOODPOOL, "blood pool", "#4da6ff"), ("wall", "LV myocardium", "#33cc33"),
             (L.GRAYZONE, "gray zone", "#ff9900"), ("infarct", "scar", "#ffff00"), (L.MVO, "MVO", "#ff3333"))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _segment_angle(seg: int) -> float:
    """Centre angle (degrees, mathematical, counter-clockwise from the right) of a segment."""
    if seg <= 12:
        return 90.0 + 60.0 * ((seg - 1) % 6)  # 1 top, 2 upper left (anteroseptal), ... 6 upper right
    return 90.0 + 90.0 * (seg - 13)  # 13 top, 14 left (septal), 15 bottom, 16 right (lateral)


def _banner(fig, text: str) -> None:
    """A red band across the top of a figure: the result is uncertain or failed (quality.banner)."""
    if text:
        # above the title: the saved picture's tight bounding box grows to hold it
        fig.text(0.5, 1.03, text if len(text) <= 110 else text[:107] + "...", ha="center", va="bottom", fontsize=9,
                 color="white", bbox={"facecolor": "#c00000", "edgecolor": "none", "pad": 4})


_NO_DATA = "#d9d9d9"


def _segment_value(by_seg: Dict[int, Dict[str, object]], segment: int, key: str):
    """(value, has data): a segment without myocardium voxels has no value to show."""
    row = by_seg.get(segment, {})
    return float(row.get(key, 0.0)), float(row.get("myocardium_ml", 0.0)) > 0.0


def draw_bullseye(rows: List[Dict[str, object]], path, title: str = "", banner: str = "") -> None:
    """Two polar maps side by side: infarct % of each segment's myocardium, and mean transmurality.
    A segment with no myocardium in the data (a sparse stack misses its level) is grey, "no data",
    never a 0 %."""
    plt = _pyplot()
    from matplotlib.patches import Circle, Wedge

    by_seg = {r["segment"]: r for r in rows}
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 5.0))
    panels = (("scar_percent", "Infarct (% of segment)", 100.0, "{:.0f}%"),
              ("transmurality_mean", "Mean transmurality", 1.0, "{:.2f}"))
    cmap = plt.get_cmap("YlOrRd")
    for ax, (key, label, vmax, fmt) in zip(axes, panels):
        for segs, r0, r1, width in _RINGS:
            for s in segs:
                value, has_data = _segment_value(by_seg, s, key)
                c = _segment_angle(s)
                ax.add_patch(Wedge((0, 0), r1, c - width / 2, c + width / 2, width=r1 - r0,
                                   facecolor=cmap(min(value / vmax, 1.0)) if has_data else _NO_DATA,
                                   hatch=None if has_data else "//", edgecolor="black", lw=1.2))
                rad = np.radians(c)
                rm = (r0 + r1) / 2
                ax.text(rm * np.cos(rad), rm * np.sin(rad), f"{s}\n" + (fmt.format(value) if has_data else "no data"),
                        ha="center", va="center", fontsize=8 if has_data else 7)
        value, has_data = _segment_value(by_seg, 17, key)
        ax.add_patch(Circle((0, 0), 0.25, facecolor=cmap(min(value / vmax, 1.0)) if has_data else _NO_DATA,
                            hatch=None if has_data else "//", edgecolor="black", lw=1.2))
        ax.text(0, 0, "17\n" + (fmt.format(value) if has_data else "no data"), ha="center", va="center", fontsize=8)
        for text, xy in (("anterior", (0, 1.08)), ("inferior", (0, -1.1)), ("septal", (-1.12, 0)),
                         ("lateral", (1.12, 0))):
            ax.text(*xy, text, ha="center", va="center", fontsize=9, rotation=90 if text in ("septal", "lateral") else 0)
        ax.set_xlim(-1.25, 1.25)
        ax.set_ylim(-1.25, 1.25)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(label)
        sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, vmax))
        fig.colorbar(sm, ax=ax, fraction=0.04, pad=0.02)
    fig.suptitle(title or "AHA 17-segment bull's-eye")
    _banner(fig, banner)
    _save(fig, path, plt)


def _save(fig, path, plt) -> None:
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)


def short_axis_slices(image: np.ndarray, codes: np.ndarray, grid, frame, n: int = 12, fov_mm: float = 110.0,
                      pixel_mm: float = 0.7):
    """(images, codes, labels) of ``n`` true short-axis planes from base to apex, reformatted from
    any acquisition with the LV frame (linear for the image, nearest for the labels), in the usual
    view: anterior up, septum on the left."""
    from scipy import ndimage as ndi

    e_sep = frame.septum_lps
    e_perp = np.cross(frame.axis_lps, e_sep)
    up = frame.anterior_sign * e_perp  # towards the anterior side
    # anterior up, septum left: image columns run from the septum towards the lateral wall
    m = int(round(fov_mm / pixel_mm))
    r = (np.arange(m) - (m - 1) / 2) * pixel_mm
    cols, rows = np.meshgrid(r, r)
    us = np.linspace(0.03, 1.05, n)
    imgs, labs = [], []
    for u in us:
        centre = frame.base_lps + frame.axis_lps * u * frame.length_mm
        pts = centre + cols[..., None] * (-e_sep) + rows[..., None] * (-up)
        ijk = grid.lps_to_ijk(pts.reshape(-1, 3))
        coords = ijk[:, ::-1].T  # (k, j, i)
        imgs.append(ndi.map_coordinates(image, coords, order=1, mode="constant", cval=0.0).reshape(m, m))
        labs.append(ndi.map_coordinates(codes, coords, order=0, mode="constant", cval=0).reshape(m, m))
    labels = [f"{'basal' if u < 1 / 3 else 'mid' if u < 2 / 3 else 'apical' if u <= 1 else 'apex'} "
              f"({u * frame.length_mm:.0f} mm)" for u in us]
    return np.stack(imgs), np.stack(labs).astype(np.uint8), labels


def draw_qa(image: np.ndarray, codes: np.ndarray, spacing_ijk, path, title: str = "", max_slices: int = 12,
            grid=None, frame=None, banner: str = "") -> None:
    """A montage of up to ``max_slices`` slices through the LV with the segmentation's contours over
    the image: true short-axis planes (anterior up, septum left) when the LV frame is known,
    otherwise, and always for thick-slice stacks (whose planes between slices hold no data), the
    acquired slices of the image's k axis cropped to the heart, named by their position."""
    plt = _pyplot()
    thick = thick_slice_axis(spacing_ijk, THICK_SLICE_RATIO) == 0  # k slices, planes between them hold no data
    if frame is not None and grid is not None and not thick:
        sa_img, sa_codes, names = short_axis_slices(image, codes, grid, frame, max_slices)
        return _montage(plt, sa_img, sa_codes, list(range(len(names))), names, (0, sa_img.shape[1], 0, sa_img.shape[2]),
                        1.0, path, (title + " - short axis, anterior up, septum left").strip(" -"), banner)
    wall = L.lv_myocardium(codes)
    ks = np.nonzero(wall.any((1, 2)))[0]
    if ks.size == 0:
        ks = np.array([codes.shape[0] // 2])
    chosen = ks[np.linspace(0, ks.size - 1, min(max_slices, ks.size)).round().astype(int)]
    lv = wall | (codes == L.BLOODPOOL)
    if lv.any():
        jj, ii = np.nonzero(lv.any(0))
        pad = int(np.ceil(15.0 / min(spacing_ijk[0], spacing_ijk[1])))
        j0, j1 = max(jj.min() - pad, 0), min(jj.max() + pad + 1, codes.shape[1])
        i0, i1 = max(ii.min() - pad, 0), min(ii.max() + pad + 1, codes.shape[2])
    else:
        j0, j1, i0, i1 = 0, codes.shape[1], 0, codes.shape[2]
    names = [f"slice {k}" for k in chosen]
    if frame is not None and grid is not None:  # where each slice lies along the LV, base 0 mm
        centre = grid.ijk_to_lps_points([[codes.shape[2] / 2.0, codes.shape[1] / 2.0, float(k)] for k in chosen])
        u, _ = frame.coordinates(centre)
        names = [f"slice {k}: {x * frame.length_mm:.0f} mm from base" for k, x in zip(chosen, u)]
    _montage(plt, image, codes, list(chosen), names, (j0, j1, i0, i1),
             spacing_ijk[1] / spacing_ijk[0], path, title or "LVScarSeg QA", banner)


def _montage(plt, image, codes, chosen, names, box, aspect, path, title, banner: str = "") -> None:
    j0, j1, i0, i1 = box
    cols = min(4, len(chosen))
    rows = int(np.ceil(len(chosen) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows + 0.4), squeeze=False)
    crop_img = image[:, j0:j1, i0:i1]
    lo, hi = np.percentile(crop_img[chosen], [1, 99.5])
    for ax, k, name in zip(axes.ravel(), chosen, names):
        ax.imshow(crop_img[k], cmap="gray", vmin=lo, vmax=hi, aspect=aspect, interpolation="nearest")
        c = codes[k, j0:j1, i0:i1]
        for code, _, color in _CONTOURS:
            if code == "wall":
                mask = L.lv_myocardium(c)
            elif code == "infarct":
                mask = L.infarct(c)
            else:
                mask = c == code
            if mask.any():
                ax.contour(mask.astype(float), levels=[0.5], colors=[color], linewidths=1.0)
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    for ax in axes.ravel()[len(chosen):]:
        ax.axis("off")
    from matplotlib.lines import Line2D

    handles = [Line2D([0], [0], color=color, lw=2, label=name) for _, name, color in _CONTOURS]
    fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=9, frameon=False)
    fig.suptitle(title, fontsize=11)
    _banner(fig, banner)
    _save(fig, path, plt)
