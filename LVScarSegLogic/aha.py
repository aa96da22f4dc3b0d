"""The LV coordinate frame and the AHA 17-segment model: per-segment myocardium, scar and
transmurality.

Frame: the long axis comes from the LV (wall + cavity) itself — the slice normal of a thick-slice
short-axis stack, otherwise the principal axis of the LV — pointing from base (the open end of
the cavity) to apex (where the wall caps the cavity). The septum is found from the image: the RV
blood pool is the bright crescent just outside the epicardium; the user's RV insertion points
(RAS, as Slicer markups) override it. Which side of the septum is anterior follows from the
patient coordinate system. Angles follow the AHA layout: the anterior RV insertion point
separates segments 1 and 2, the septum (2-3, 8-9, 14) spans the 120 degrees between the two
insertion points.

All arrays are (k, j, i); points are LPS millimetres (``geometry`` converts RAS once).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from . import labels as L
from .geometry import Grid, ras_to_lps_points

AHA_NAMES = {
    1: "basal anterior", 2: "basal anteroseptal", 3: "basal inferoseptal", 4: "basal inferior",
    5: "basal inferolateral", 6: "basal anterolateral", 7: "mid anterior", 8: "mid anteroseptal",
    9: "mid inferoseptal", 10: "mid inferior", 11: "mid inferolateral", 12: "mid anterolateral",
    13: "apical anterior", 14: "apical septal", 15: "apical inferior", 16: "apical lateral", 17: "apex",
}
_ANTERIOR_LPS = np.array([0.0, -1.0, 0.0])  # LPS: +y is posterior
_RV_PRIOR_LPS = np.array([-1.0, -1.0, 0.0]) / np.sqrt(2.0)  # the RV lies right and anterior of the LV


@dataclass
class LVFrame:
    """base_lps: centre of the basal end; axis_lps: unit vector base -> apex; septum_lps: unit
    vector from the axis to the septum centre; anterior_sign: +1/-1, the side of the septum that is
    anterior; length_mm: base to the cavity's apical end; septum_source: image, user or prior."""

    base_lps: np.ndarray
    axis_lps: np.ndarray
    septum_lps: np.ndarray
    anterior_sign: float
    length_mm: float
    septum_source: str
    uncertain: bool = False
    warnings: List[str] = field(default_factory=list)

    def to_json(self) -> Dict[str, object]:
        from .geometry import lps_to_ras_points

        ras = lambda v: [round(float(x), 4) for x in lps_to_ras_points([v])[0]]
        flip = np.array([-1.0, -1.0, 1.0])  # directions: LPS -> RAS
        return {"base_centre_ras": ras(self.base_lps), "long_axis_ras": [round(float(x), 4) for x in self.axis_lps * flip],
                "septum_direction_ras": [round(float(x), 4) for x in self.septum_lps * flip],
                "length_mm": round(self.length_mm, 2), "septum_from": self.septum_source, "uncertain": self.uncertain}

    def coordinates(self, points_lps: np.ndarray):
        """(u: 0 base .. 1 cavity apex, beyond 1 the apical cap; phi: degrees from the anterior
        RV insertion point through the septum, 0-360)."""
        v = points_lps - self.base_lps
        u = (v @ self.axis_lps) / self.length_mm
        e2 = np.cross(self.axis_lps, self.septum_lps)
        psi = np.degrees(np.arctan2(self.anterior_sign * (v @ e2), v @ self.septum_lps))
        return u, np.mod(60.0 - psi, 360.0)


def mask_points_lps(mask: np.ndarray, grid: Grid) -> np.ndarray:
    """LPS positions (N, 3) of the voxels of ``mask`` (k, j, i) on ``grid``."""
    k, j, i = np.nonzero(mask)
    return grid.ijk_to_lps_points(np.stack([i, j, k], 1))


def cavity_of(codes: np.ndarray, grid: Grid) -> np.ndarray:
    """The LV blood pool: code 1 where present, otherwise the holes of the wall filled slice by slice."""
    blood = codes == L.BLOODPOOL
    if blood.any():
        return blood
    from scipy import ndimage as ndi

    wall = L.lv_myocardium(codes)
    filled = np.zeros_like(wall)
    for k in np.nonzero(wall.any((1, 2)))[0]:
        filled[k] = ndi.binary_fill_holes(wall[k])
    return filled & ~wall


def _unit(v):
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


def lv_frame(codes: np.ndarray, grid: Grid, image: Optional[np.ndarray] = None,
             rv_insertion_ras: Sequence[Sequence[float]] = ()) -> Optional[LVFrame]:
    """The LV frame of a coded segmentation, or None when it has no LV wall."""
    from .masks import slice_axis

    wall = L.lv_myocardium(codes)
    if not wall.any():
        return None
    cavity = cavity_of(codes, grid)
    warnings: List[str] = []
    uncertain = False
    pw = mask_points_lps(wall, grid)
    pc = mask_points_lps(cavity, grid) if cavity.any() else pw
    lv = np.concatenate([pw, pc])
    centre = lv.mean(0)
    stack_axis = slice_axis(grid.spacing)
    if stack_axis is not None:  # a 2D short-axis stack: its slices are the short-axis planes
        axis = _unit(np.asarray(grid.direction_matrix)[:, 2 - stack_axis])
    else:
        evals, evecs = np.linalg.eigh(np.cov((lv - centre).T))
        axis = evecs[:, -1]
        if evals[-1] < 1.15 * evals[-2]:
            uncertain = True
            warnings.append("the LV long axis is uncertain (the LV is almost as wide as long)")
    tw, tc = (pw - centre) @ axis, (pc - centre) @ axis
    # The apex is where the wall caps the cavity; the base is open.
    if (tw.max() - tc.max()) < (tc.min() - tw.min()):
        axis, tw, tc = -axis, -tw, -tc
    if not cavity.any():
        uncertain = True
        warnings.append("no LV cavity could be found; base and apex are uncertain")
    base_t, apex_t = tw.min(), tc.max() if cavity.any() else tw.max()
    length = max(float(apex_t - base_t), 1e-3)
    base = centre + axis * base_t

    septum, source = None, "prior"
    if len(rv_insertion_ras) >= 1:
        pts = ras_to_lps_points(np.asarray(rv_insertion_ras, dtype=float))
        dirs = [_unit((p - base) - ((p - base) @ axis) * axis) for p in pts]
        septum, source = _unit(np.sum(dirs, 0)), "user"
        if len(rv_insertion_ras) == 1:
            warnings.append("one RV insertion point given: the septum is taken 60 degrees from it towards the RV")
            e2 = np.cross(axis, dirs[0])
            # rotate 60 degrees towards the posterior/inferior side (the anterior point is the usual one)
            sign = -1.0 if e2 @ _ANTERIOR_LPS > 0 else 1.0
            septum = _unit(np.cos(np.radians(60)) * dirs[0] + sign * np.sin(np.radians(60)) * e2)
    elif image is not None and cavity.any():
        septum = _septum_from_image(image, wall, cavity, grid, base, axis, length)
        if septum is not None:
            source = "image"
    prior = _unit(_RV_PRIOR_LPS - (_RV_PRIOR_LPS @ axis) * axis)
    if septum is None:
        septum = prior
        uncertain = True
        warnings.append("the RV insertion points were not found in the image; the septum is assumed to face the "
                        "patient's right-anterior side (give --rv-insertion R,A,S for exact segments)")
    elif source == "image" and septum @ prior < 0.0:
        uncertain = True
        warnings.append("the septum found in the image faces away from the patient's right; check the AHA segments "
                        "(or give --rv-insertion R,A,S)")
    a = _ANTERIOR_LPS - (_ANTERIOR_LPS @ axis) * axis
    e2 = np.cross(axis, septum)
    anterior_sign = 1.0 if e2 @ a >= 0 else -1.0
    return LVFrame(base, axis, septum, anterior_sign, length, source, uncertain, warnings)


def _septum_from_image(image, wall, cavity, grid: Grid, base, axis, length) -> Optional[np.ndarray]:
    """The direction (LPS, across the axis) of the bright RV blood crescent 2-12 mm outside the
    mid-ventricular epicardium, or None when no blood-like arc is found."""
    from scipy import ndimage as ndi

    from .masks import bounding_box

    sp = grid.spacing_kji
    lv = wall | cavity
    # only the LV's neighbourhood matters: the distance map of a 13-mm box around it, not the volume
    box = bounding_box(lv, [int(np.ceil(13.0 / s)) for s in sp])
    dist = ndi.distance_transform_edt(~lv[box], sampling=sp)
    shell = np.zeros(lv.shape, dtype=bool)
    shell[box] = (dist > 2.0) & (dist < 12.0)
    ps = mask_points_lps(shell, grid)
    u = ((ps - base) @ axis) / length
    mid = (u > 0.2) & (u < 0.75)
    if mid.sum() < 50:
        return None
    vals = image[shell][mid].astype(np.float64)
    ps = ps[mid]
    blood = float(np.median(image[cavity]))
    myo = float(np.median(image[wall]))
    if blood - myo <= 0:
        return None
    score = (vals - myo) / (blood - myo)
    ref = _unit(np.cross(axis, [1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.cross(axis, [0.0, 1.0, 0.0]))
    ref2 = np.cross(axis, ref)
    v = ps - base
    ang = np.mod(np.degrees(np.arctan2(v @ ref2, v @ ref)), 360.0)
    nbin = 36
    b = (ang // (360 / nbin)).astype(int) % nbin
    sums = np.bincount(b, weights=np.clip(score, -1, 2), minlength=nbin)
    counts = np.bincount(b, minlength=nbin)
    profile = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    bright = profile > 0.5
    if not bright.any() or bright.all():
        return None
    # the longest run of blood-like bins around the circle is the RV
    start = int(np.argmin(bright))  # a dark bin: runs do not wrap across it
    order = [(start + s) % nbin for s in range(nbin)]
    best, run = [], []
    for idx in order + [start]:
        if bright[idx]:
            run.append(idx)
        else:
            if len(run) > len(best):
                best = run
            run = []
    if len(best) < 3:  # under 30 degrees: not an RV
        return None
    centre_angle = np.radians((np.asarray(best) + 0.5) * (360 / nbin))
    c, s = np.cos(centre_angle).mean(), np.sin(centre_angle).mean()
    return _unit(c * ref + s * ref2)


def _segment_numbers(u: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """AHA segment (1-17) of points given their LV-frame coordinates (see LVFrame.coordinates)."""
    six = (phi // 60.0).astype(int) % 6  # 0: anteroseptal ... 5: anterior (from the anterior insertion)
    six_to_aha = np.array([2, 3, 4, 5, 6, 1])
    # (% 4: np.mod of a tiny negative angle rounds to 360.0)
    four = (np.mod(phi - 15.0, 360.0) // 90.0).astype(int) % 4  # 0 septal, 1 inferior, 2 lateral, 3 anterior
    four_to_aha = np.array([14, 15, 16, 13])
    seg = np.where(u < 1 / 3, six_to_aha[six], np.where(u < 2 / 3, six_to_aha[six] + 6, four_to_aha[four]))
    return np.where(u > 1.0, 17, seg)


def segment_table(codes: np.ndarray, grid: Grid, frame: LVFrame) -> List[Dict[str, object]]:
    """Per AHA segment: myocardium_ml, scar_ml (infarct), scar_percent, and transmurality mean and
    max: the infarct fraction of the wall along chords (3-degree sectors x 2-mm slabs through the
    wall), 0 = none, 1 = the whole wall from endocardium to epicardium."""
    wall = L.lv_myocardium(codes)
    u, phi = frame.coordinates(mask_points_lps(wall, grid))
    s = _segment_numbers(u, phi).astype(np.int64)
    v = grid.voxel_volume_ml
    inf = L.infarct(codes)[wall]
    # chords: thin sectors through the wall, one per 3 degrees and 2 mm of long axis
    slab = np.floor(u * frame.length_mm / 2.0).astype(np.int64)
    if slab.size:  # a prediction can have no wall at all (evaluate): every segment is then empty
        slab -= slab.min()
    chord = (slab * 120 + (phi // 3.0).astype(np.int64)) * 18 + s
    ids, inverse = np.unique(chord, return_inverse=True)
    n_wall = np.bincount(inverse)
    n_inf = np.bincount(inverse, weights=inf)
    chord_seg = ids % 18
    frac = n_inf / n_wall
    rows = []
    for k in range(1, 18):
        sel = s == k
        c = chord_seg == k
        myo_ml = float(sel.sum() * v)
        scar_ml = float((sel & inf).sum() * v)
        rows.append({"segment": k, "name": AHA_NAMES[k], "myocardium_ml": myo_ml, "scar_ml": scar_ml,
                     "scar_percent": 100.0 * scar_ml / myo_ml if myo_ml > 0 else 0.0,
                     "transmurality_mean": float(frac[c].mean()) if c.any() else 0.0,
                     "transmurality_max": float(frac[c].max()) if c.any() else 0.0})
    return rows


def per_slice(codes: np.ndarray, grid: Grid) -> List[Dict[str, object]]:
    """Volumes per slice of the image's k axis (mL): LV myocardium, infarct, MVO, gray zone."""
    v = grid.voxel_volume_ml
    rows = []
    for k in range(codes.shape[0]):
        counts = np.bincount(codes[k].ravel(), minlength=6)
        lv = float(counts[2:6].sum() * v)
        if lv == 0:
            continue
        inf = float((counts[L.SCAR] + counts[L.MVO]) * v)
        rows.append({"slice": k, "lv_myocardium_ml": lv, "scar_ml": inf, "mvo_ml": float(counts[L.MVO] * v),
                     "grayzone_ml": float(counts[L.GRAYZONE] * v), "scar_percent": 100.0 * inf / lv})
    return rows
