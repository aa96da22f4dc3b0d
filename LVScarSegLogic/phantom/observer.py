"""An observer's contour: the true wall as a human would draw it (the benchmark's "observer"
myocardium, and the trainers' drawn walls)."""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ..geometry import spacing_kji
from ..masks import in_plane_structure


def observer_myocardium(wall: np.ndarray, spacing, seed: int, cavity: np.ndarray = None) -> np.ndarray:
    """The wall as a human would draw it: the endocardial and the epicardial border each moved
    about one voxel in or out, in smooth patches, independently (in-plane for thick-slice
    stacks). ``cavity`` (the LV blood pool) tells the two borders apart; without it, the wall's
    holes filled slice by slice are used."""
    rng = np.random.default_rng(seed)
    structure = in_plane_structure(spacing)
    if cavity is None:
        cavity = ndi.binary_fill_holes(wall, structure=structure) & ~wall
    cavity = cavity & ~wall
    outside = ~(wall | cavity)
    sigma = [max(0.5, 6.0 / s) for s in spacing_kji(spacing)]

    def patches():
        f = ndi.gaussian_filter(rng.standard_normal(wall.shape).astype(np.float32), sigma)
        return f / max(float(f.std()), 1e-9)

    out = wall.copy()
    for side, f in ((cavity, patches()), (outside, patches())):
        touching_side = wall & ndi.binary_dilation(side, structure)
        touching_wall = side & ndi.binary_dilation(wall, structure)
        out[touching_side & (f < -0.4)] = False  # border drawn a voxel inside the wall
        out[touching_wall & (f > 0.4)] = True  # border drawn a voxel outside it
    return out
