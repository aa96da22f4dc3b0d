"""The heart in its own frame (millimetres).

Heart frame: z is the LV long axis pointing from apex to base, the base plane is z = 0 and
the apex lies at negative z; y points anterior; x = y cross z points to the septum / RV.
Positions around the LV use the AHA angle ``alpha`` (degrees): 0 anterior, 90 septum,
180 inferior, 270 lateral; ``u`` runs from 0 at the base to 1 at the endocardial apex.
Figures come from ../shared/reference/methods-and-numbers.md section 4.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Tuple

import numpy as np

from .fields import ALPHA_BINS, U_BINS, U_MAX, AngularTable, VolumeField

# Tissue classes (internal; mapped to EMIDEC codes by TISSUE_TO_CODE)
AIR, MUSCLE, SUBCUT_FAT, LUNG, LIVER, MEDIASTINUM, BONE, AORTA_DESC = 0, 1, 2, 3, 4, 5, 6, 7
LV_BLOOD, PAPILLARY, LV_MYO, SCAR, GRAYZONE, MVO = 10, 11, 12, 13, 14, 15
RV_BLOOD, RV_MYO, LA_BLOOD, AO_BLOOD, EPI_FAT, VESSEL_WALL = 16, 17, 18, 19, 20, 21
N_TISSUES = 22

TISSUE_TO_CODE = np.zeros(N_TISSUES, dtype=np.uint8)
TISSUE_TO_CODE[[LV_BLOOD, PAPILLARY]] = 1
TISSUE_TO_CODE[LV_MYO] = 2
TISSUE_TO_CODE[SCAR] = 3
TISSUE_TO_CODE[MVO] = 4
TISSUE_TO_CODE[GRAYZONE] = 5

TERRITORIES = {  # AHA angle range of the scar centre, u range of the centre
    "LAD": ((-25.0, 60.0), (0.35, 0.85)),
    "RCA": ((120.0, 200.0), (0.15, 0.6)),
    "LCx": ((215.0, 305.0), (0.15, 0.6)),
}


@dataclass
class ScarParams:
    territory: str
    alpha0: float  # degrees
    u0: float
    half_width_deg: float
    half_length_u: float
    transmurality: float  # 0-1, at the centre; edges are less transmural (wavefront)
    grayzone_mm: float  # width of the intermediate-signal rim
    patchiness_mm: float  # amplitude of the random border displacement (patchy scar)
    mvo: bool


@dataclass
class HeartParams:
    a_endo: float = 24.0  # mm, endocardial short-axis radius at the equator
    c_endo: float = 58.0  # mm, endocardial long semi-axis
    base_offset: float = 0.3  # ellipsoid centre lies base_offset * c_endo below the base plane
    wall_mm: float = 8.0  # healthy mid-ventricular wall thickness
    apex_ratio: float = 0.55  # apical wall = apex_ratio * wall_mm
    scar_thinning: float = 0.45  # fraction of wall lost under transmural scar
    rv_wall_mm: float = 3.0
    fat_mm: float = 1.5  # mean epicardial fat thickness (grooves get more)
    papillary_radius_mm: Tuple[float, float] = (5.0, 4.5)
    scars: List[ScarParams] = field(default_factory=list)
    seed: int = 0

    @property
    def apex_depth(self) -> float:
        """Distance from the base plane to the endocardial apex (mm)."""
        return self.c_endo * (1.0 + self.base_offset)


class Heart:
    """Evaluates tissue classes of heart points (heart frame, mm)."""

    def __init__(self, p: HeartParams):
        self.p = p
        rng = np.random.default_rng(p.seed)
        self.eps_endo = AngularTable.fourier(rng, 0.035, max_order=4)
        trabeculae = AngularTable.fourier(rng, 0.8 / p.a_endo, max_order=18, u_orders=6, decay=0.3)
        self.eps_endo = AngularTable(self.eps_endo.table + trabeculae.table)
        self.eps_epi = AngularTable.fourier(rng, 0.025, max_order=3)
        self.fat_noise = AngularTable.fourier(rng, 1.0, max_order=8, u_orders=4, decay=0.7)
        depth = p.apex_depth
        lo = (-p.a_endo - 40, -p.a_endo - 40, -depth - 25)
        hi = (p.a_endo + 40, p.a_endo + 40, 10)
        self.patch_field = VolumeField(rng, lo, hi, correlation_mm=2.0)
        self.texture = VolumeField(rng, lo, hi, correlation_mm=4.0, step_mm=2.0)
        self._build_scar_tables()

    # -- scar footprint on the (alpha, u) map
    def _build_scar_tables(self):
        a = np.arange(ALPHA_BINS, dtype=float)[:, None]
        u = np.linspace(0, U_MAX, U_BINS)[None, :]
        rng = np.random.default_rng(self.p.seed + 1)
        mid_radius = self.p.a_endo + self.p.wall_mm / 2
        self.scar_tables = []
        thin = np.zeros((ALPHA_BINS, U_BINS), dtype=np.float32)
        for s in self.p.scars:
            da = (a - s.alpha0 + 180.0) % 360.0 - 180.0
            d = np.sqrt((da / s.half_width_deg) ** 2 + ((u - s.u0) / s.half_length_u) ** 2)
            wobble = AngularTable.fourier(rng, 0.12, max_order=6, u_orders=4, decay=0.8).table
            d = d * (1.0 + wobble)
            # Lateral distance (mm) from the footprint's edge, positive inside.
            scale = min(np.deg2rad(s.half_width_deg) * mid_radius, s.half_length_u * self.p.apex_depth)
            lateral_mm = (1.0 - d) * scale
            # Wavefront: most transmural at the centre, subendocardial at the edges.
            extent = s.transmurality * np.clip((1.0 - d) / 0.5, 0.3, 1.0) ** 0.7
            self.scar_tables.append((AngularTable(lateral_mm), AngularTable(extent)))
            transmural = np.clip((extent - 0.7) / 0.3, 0, 1) * (lateral_mm > 0)
            thin = np.maximum(thin, transmural)
        from scipy import ndimage as ndi

        thin = ndi.gaussian_filter(thin, (4, 2), mode=("wrap", "nearest"))
        self.thinning = AngularTable(thin * self.p.scar_thinning * self.p.wall_mm)

    # -- geometry helpers
    def polar(self, pts: np.ndarray):
        x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
        alpha = np.mod(90.0 - np.degrees(np.arctan2(y, x)), 360.0)
        u = -z / self.p.apex_depth
        return alpha, u

    def lv_surfaces(self, pts: np.ndarray, alpha, u):
        """Normalised radii of the endocardial and epicardial ellipsoids (1 on the surface)."""
        p = self.p
        x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
        rho = np.hypot(x, y)
        zc = -p.base_offset * p.c_endo
        dz = z - zc
        a_e = p.a_endo * (1.0 + self.eps_endo(alpha, u))
        a_p = (p.a_endo + p.wall_mm) * (1.0 + self.eps_epi(alpha, u)) - self.thinning(alpha, u)
        a_p = np.maximum(a_p, a_e + 1.5)
        c_e = p.c_endo
        c_p = p.c_endo + p.apex_ratio * p.wall_mm
        r_e = np.sqrt((rho / a_e) ** 2 + (dz / c_e) ** 2)
        r_p = np.sqrt((rho / a_p) ** 2 + (dz / c_p) ** 2)
        return r_e, r_p, a_p

    def tissues(self, pts: np.ndarray) -> np.ndarray:
        """Tissue class of each point (N, 3) in heart mm; AIR where the heart has nothing (body decides)."""
        p = self.p
        n = pts.shape[0]
        out = np.zeros(n, dtype=np.uint8)
        x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
        alpha, u = self.polar(pts)
        r_e, r_p, a_p = self.lv_surfaces(pts, alpha, u)
        below = z <= 0.0

        # Epicardial fat first (others overwrite it): a layer outside the epicardium, thicker in
        # the AV groove (base) and the interventricular grooves (RV insertions), patchy.
        groove = np.exp(-0.5 * ((np.abs(((alpha - 90.0 + 180.0) % 360.0) - 180.0) - 65.0) / 15.0) ** 2)
        fat_mm = p.fat_mm * (1.0 + 0.8 * self.fat_noise(alpha, u)) + 5.0 * groove + 6.0 * np.exp(-u / 0.06)
        fat_mm = np.clip(fat_mm, 0.0, 9.0)
        near = (r_p > 1.0) & (r_p < 1.0 + fat_mm / a_p) & (z <= 6.0)
        out[near] = EPI_FAT

        # RV: a crescent on the septal side (+x), wall outside its cavity.
        depth = p.apex_depth
        a_epi = p.a_endo + p.wall_mm
        rv_c = np.array([0.55 * a_epi, 3.0, -0.3 * depth])
        rv_ax = np.array([1.15 * a_epi, 1.55 * a_epi, 0.62 * depth])
        q = (pts - rv_c) / rv_ax
        rv_r = np.sqrt((q ** 2).sum(axis=1))
        q_out = (pts - rv_c) / (rv_ax + p.rv_wall_mm)
        rv_r_out = np.sqrt((q_out ** 2).sum(axis=1))
        outside_lv = r_p > 1.0
        rv_cap = z <= 8.0
        out[(rv_r_out <= 1.0) & outside_lv & rv_cap] = RV_MYO
        out[(rv_r <= 1.0) & outside_lv & rv_cap] = RV_BLOOD

        # Left atrium above the base (posterior) and aortic root from the LVOT.
        la_c = np.array([-4.0, -12.0, 0.36 * p.a_endo + 12.0])
        la_ax = np.array([1.15 * p.a_endo, 0.9 * p.a_endo, 0.36 * p.a_endo + 12.0])
        la_r = np.sqrt((((pts - la_c) / la_ax) ** 2).sum(axis=1))
        la_r_out = np.sqrt((((pts - la_c) / (la_ax + 2.0)) ** 2).sum(axis=1))
        above = z > 0.0
        out[(la_r_out <= 1.0) & above] = VESSEL_WALL
        out[(la_r <= 1.0) & above] = LA_BLOOD

        ao_start = np.array([0.35 * p.a_endo, 0.55 * p.a_endo, -4.0])
        ao_dir = np.array([0.25, 0.25, 1.0]) / np.linalg.norm([0.25, 0.25, 1.0])
        rel = pts - ao_start
        along = rel @ ao_dir
        radial = np.linalg.norm(rel - along[:, None] * ao_dir, axis=1)
        ao_radius = 0.5 * p.a_endo + 1.0
        in_ao = (along >= 0) & (along <= 70.0)
        out[in_ao & (radial <= ao_radius + 2.0) & (z > 0)] = VESSEL_WALL
        out[in_ao & (radial <= ao_radius)] = AO_BLOOD

        # LV cavity and wall (below the base plane; the LVOT stays aortic blood).
        lvot = in_ao & (radial <= ao_radius)
        cavity = below & (r_e < 1.0) & ~lvot
        wall = below & (r_e >= 1.0) & (r_p <= 1.0) & ~lvot
        out[cavity] = LV_BLOOD
        out[wall] = LV_MYO

        # Papillary muscles: two tapered columns in the cavity, joined to the wall near the apex.
        for k, (pm_alpha, r_pm) in enumerate(zip((300.0, 205.0), p.papillary_radius_mm)):
            theta = np.deg2rad(90.0 - pm_alpha)
            centre = 0.62 * p.a_endo * np.array([np.cos(theta), np.sin(theta)])
            top, bottom = -0.32 * depth, -0.82 * depth
            frac = np.clip((top - z) / 8.0, 0.0, 1.0)  # rounded head
            d = np.hypot(x - centre[0], y - centre[1])
            pm = cavity & (z <= top) & (z >= bottom) & (d <= r_pm * (0.4 + 0.6 * frac))
            out[pm] = PAPILLARY

        # Scar inside the LV wall.
        if p.scars and wall.any():
            self._scar(pts, alpha, u, r_e, r_p, wall, out)
        return out

    def _scar(self, pts, alpha, u, r_e, r_p, wall, out):
        idx = np.nonzero(wall)[0]
        a, uu = alpha[idx], u[idx]
        s = (r_e[idx] - 1.0) / np.maximum(r_e[idx] - r_p[idx], 1e-6)  # 0 endocardium .. 1 epicardium
        patch = self.patch_field(pts[idx])
        best = np.full(idx.size, -np.inf, dtype=np.float32)
        mvo = np.zeros(idx.size, dtype=bool)
        for scar, (lateral, extent) in zip(self.p.scars, self.scar_tables):
            e = extent(a, uu)
            # Near-transmural parts reach the epicardium (no gray layer on the epicardial side).
            transmural_mm = (e - s) * self.p.wall_mm + 10.0 * np.clip((e - 0.9) / 0.1, 0.0, 1.0)
            level = np.minimum(transmural_mm, lateral(a, uu)) + scar.patchiness_mm * patch
            if scar.mvo:
                # Dark core: deep inside a large, transmural part of the infarct, subendocardial.
                mvo |= (level > 3.0 + 0.5 * scar.patchiness_mm) & (s < 0.55 * e) & (e > 0.6)
            # Gray-zone rim of this scar's own width: encode as level / width for the union.
            best = np.maximum(best, np.where(level > 0, level, level / max(scar.grayzone_mm, 1e-3)))
        tissue = np.full(idx.size, LV_MYO, dtype=np.uint8)
        tissue[(best > -1.0) & (best <= 0.0)] = GRAYZONE
        tissue[best > 0.0] = SCAR
        tissue[mvo & (best > 0.0)] = MVO
        out[idx] = tissue

    def aha_segment(self, alpha: np.ndarray, u: np.ndarray) -> np.ndarray:
        """AHA 17-segment number of points given their AHA angle and depth u (0 base, 1 apex)."""
        seg = np.zeros(alpha.shape, dtype=np.uint8)
        six = (((alpha + 30.0) % 360.0) // 60.0).astype(int)  # 0 anterior .. 5 anterolateral
        four = (((alpha + 45.0) % 360.0) // 90.0).astype(int)  # 0 anterior, 1 septal, 2 inferior, 3 lateral
        basal, mid = u < 1 / 3, (u >= 1 / 3) & (u < 2 / 3)
        apical, apex = (u >= 2 / 3) & (u < 0.92), u >= 0.92
        seg[basal] = 1 + six[basal]
        seg[mid] = 7 + six[mid]
        seg[apical] = 13 + four[apical]
        seg[apex] = 17
        return seg
