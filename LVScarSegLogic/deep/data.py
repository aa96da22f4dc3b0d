"""Training data: labelled cases brought onto the working grid, and batches sampled from them
(augmented in augment.py).

A prepared case holds two views of one labelled volume:
- ``image``/``codes``: the LV crop (truth box + a random margin) on the working grid
  (``tasks.WORKING_SPACING_MM`` isotropic), image normalized, EMIDEC codes;
- ``loc_image``/``loc_lv``: the whole field of view at ``tasks.LOCALIZER_SPACING_MM``, for
  the localizer;
- for a thick-slice stack (EMIDEC, 2D-stack phantoms) also ``native_image``/``native_codes``: the
  same crop on the image's own slices (in-plane at the working spacing, never interpolated
  through-plane). 2D networks train on these, as they run at inference (prediction.inference_plan):
  slices interpolated between two acquired ones are images no scanner made.
Sources: phantoms generated on the fly (in worker processes), phantom-layout folders and
EMIDEC PNG exports (``datasets.find_cases``). Prepared cases are cached as ``.npz`` (plain
arrays, no pickles) so a resumed or repeated training does not regenerate them.
"""
from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .. import labels as L
from . import prep
from .config import BORDER_BLOOD_REACH
from .prediction import thick_slice_axis
from .tasks import LOCALIZER_SPACING_MM, WORKING_SPACING_MM, Task


@dataclass
class PreparedCase:
    name: str
    image: np.ndarray  # float32 (k, j, i), working grid, normalized
    codes: np.ndarray  # uint8 EMIDEC codes, working grid
    loc_image: np.ndarray  # float32, localizer grid, normalized
    loc_lv: np.ndarray  # uint8 0/1: LV cavity + wall, localizer grid
    source: str = "phantom"
    # thick-slice stacks only: the crop on the image's own slices (see the module docstring)
    native_image: Optional[np.ndarray] = None  # float32 (k, j, i), normalized
    native_codes: Optional[np.ndarray] = None  # uint8
    native_spacing: Tuple[float, float, float] = ()  # mm, k, j, i
    slice_axis: int = -1  # the acquisition's slice axis of the native arrays; -1: none
    # scar training only (model_walls.attach_model_walls): the wall a myocardium model draws, on
    # view()'s grid; not cached (it depends on the model)
    model_wall: Optional[np.ndarray] = None

    def view(self, task: Task) -> Tuple[np.ndarray, np.ndarray, Tuple[float, ...], Tuple[int, ...]]:
        """(image, codes, spacing k, j, i in mm, planes) as ``task``'s network sees this case at
        inference: a 2D network on a thick-slice stack gets the native slices, one plane."""
        if task.dims == 2 and self.native_image is not None:
            return self.native_image, self.native_codes, tuple(self.native_spacing), (self.slice_axis,)
        return self.image, self.codes, (task.spacing_mm,) * 3, task.planes

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".part.npz")
        native = {} if self.native_image is None else dict(
            native_image=self.native_image.astype(np.float16), native_codes=self.native_codes,
            native_spacing=np.asarray(self.native_spacing, np.float64), slice_axis=np.array(self.slice_axis))
        np.savez_compressed(tmp, image=self.image.astype(np.float16), codes=self.codes,
                            loc_image=self.loc_image.astype(np.float16), loc_lv=self.loc_lv,
                            source=np.array(self.source), name=np.array(self.name), **native)
        os.replace(tmp, path)

    @staticmethod
    def load(path: Path) -> "PreparedCase":
        with np.load(path, allow_pickle=False) as z:
            native = {} if "native_image" not in z.files else dict(
                native_image=z["native_image"].astype(np.float32), native_codes=z["native_codes"],
                native_spacing=tuple(float(v) for v in z["native_spacing"]), slice_axis=int(z["slice_axis"]))
            return PreparedCase(str(z["name"]), z["image"].astype(np.float32), z["codes"],
                                z["loc_image"].astype(np.float32), z["loc_lv"], str(z["source"]), **native)


def prepare(image: np.ndarray, codes: np.ndarray, spacing_kji: Sequence[float], name: str, rng,
            source: str = "phantom") -> PreparedCase:
    """Bring one labelled volume (k, j, i) onto the working and localizer grids."""
    torch.set_num_threads(1)
    lv = np.isin(codes, (L.BLOODPOOL,) + L.LV_MYOCARDIUM_CODES)
    if not lv.any():
        raise ValueError(f"{name}: no LV in the labels")
    # A margin like the localizer's (15 mm) with jitter, so the networks learn to cope with its errors.
    margin = rng.uniform(8.0, 25.0, size=3)
    box = prep.box_around(lv, spacing_kji, margin)
    crop = image[box].astype(np.float32)
    shape = prep.working_shape(crop.shape, spacing_kji, WORKING_SPACING_MM)
    work = prep.resample(torch.from_numpy(crop), shape, "linear").numpy()
    work_codes = prep.resample(torch.from_numpy(codes[box].astype(np.uint8)), shape, "nearest").numpy()
    loc_shape = prep.working_shape(image.shape, spacing_kji, LOCALIZER_SPACING_MM)
    loc = prep.resample(torch.from_numpy(image.astype(np.float32)), loc_shape, "linear").numpy()
    loc_lv = prep.resample(torch.from_numpy(lv.astype(np.float32)), loc_shape, "linear").numpy() >= 0.5
    native = {}
    axis = thick_slice_axis(spacing_kji)  # the rule inference uses (prediction.inference_plan)
    if axis is not None:
        spacing = [WORKING_SPACING_MM] * 3
        spacing[axis] = float(spacing_kji[axis])  # the slice axis keeps its own spacing: same slice count
        nshape = prep.working_shape(crop.shape, spacing_kji, spacing)
        nimg = prep.resample(torch.from_numpy(crop), nshape, "linear").numpy()
        ncodes = prep.resample(torch.from_numpy(codes[box].astype(np.uint8)), nshape, "nearest").numpy()
        native = dict(native_image=prep.normalize(nimg), native_codes=ncodes.astype(np.uint8),
                      native_spacing=tuple(spacing), slice_axis=int(axis))
    return PreparedCase(name, prep.normalize(work), work_codes.astype(np.uint8), prep.normalize(loc),
                        loc_lv.astype(np.uint8), source, **native)


def _phantom_worker(args) -> PreparedCase:
    seed, index, protocol = args
    from ..phantom.cases import make_case

    image, codes, grid, _ = make_case(seed, index, protocol)
    rng = np.random.default_rng([seed, index, 1])
    return prepare(image, codes, grid.spacing[::-1], f"phantom-{seed}-{index:03d}", rng)


def phantom_protocol(index: int, protocols: Sequence[str]) -> str:
    return protocols[index % len(protocols)]


def phantom_cases(n: int, seed: int, protocols: Sequence[str], workers: int = 1, cache: Optional[Path] = None,
                  indices: Optional[Sequence[int]] = None, progress: Callable[[float, str], None] = lambda f, m: None
                  ) -> List[PreparedCase]:
    """Phantom cases ``indices`` (default 0..n-1) of ``seed``, generated in ``workers`` processes
    (or loaded from ``cache``)."""
    indices = list(range(n)) if indices is None else list(indices)
    out: List[Optional[PreparedCase]] = [None] * len(indices)
    todo = []
    for pos, i in enumerate(indices):
        path = cache / f"phantom-{seed}-{i:03d}-{phantom_protocol(i, protocols)}.npz" if cache else None
        if path is not None and path.exists():
            out[pos] = PreparedCase.load(path)
        else:
            todo.append((pos, (seed, i, phantom_protocol(i, protocols)), path))
    done = len(indices) - len(todo)

    def store(pos, case, path):
        nonlocal done
        out[pos] = case
        if path is not None:
            case.save(path)
        done += 1
        progress(done / max(len(indices), 1), f"phantom cases {done}/{len(indices)}")

    if cache:
        cache.mkdir(parents=True, exist_ok=True)
    if workers > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            for (pos, _, path), case in zip(todo, pool.map(_phantom_worker, [t[1] for t in todo])):
                store(pos, case, path)
    else:
        for pos, args, path in todo:
            store(pos, _phantom_worker(args), path)
    return [c for c in out if c is not None]


def folder_cases(folder, names: Optional[Sequence[str]] = None, seed: int = 0) -> List[PreparedCase]:
    """Labelled cases from a phantom-layout folder or an EMIDEC PNG export (``names``: only these)."""
    from ..datasets import find_cases, load_case

    out = []
    for ref in find_cases(folder):
        if names is not None and ref.name not in names:
            continue
        image, codes, grid = load_case(ref)
        rng = np.random.default_rng([seed, len(out)])
        source = "emidec" if ref.slices else "folder"
        out.append(prepare(image, codes, grid.spacing[::-1], ref.name, rng, source))
    return out


# ----------------------------------------------------------------------------------------------
# Batches


def _pad_to(a: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    pads = [(0, max(0, s - n)) for n, s in zip(a.shape, shape)]
    return np.pad(a, pads) if any(p[1] for p in pads) else a


def _random_window(rng, mask: np.ndarray, size: Sequence[int], focus: float) -> Tuple[slice, ...]:
    """A window of ``size`` (the array is at least that big), centred on a mask voxel with
    probability ``focus``, anywhere otherwise."""
    shape = mask.shape
    if rng.random() < focus and mask.any():
        idx = np.flatnonzero(mask)
        centre = np.unravel_index(idx[rng.integers(idx.size)], shape)
        starts = [int(np.clip(c - s // 2 + rng.integers(-s // 4, s // 4 + 1), 0, n - s))
                  for c, s, n in zip(centre, size, shape)]
    else:
        starts = [int(rng.integers(0, n - s + 1)) for s, n in zip(size, shape)]
    return tuple(slice(b, b + s) for b, s in zip(starts, size))


def targets_of(codes: np.ndarray, target: str) -> np.ndarray:
    """Class indices of a task from EMIDEC codes (see tasks.*_CLASSES)."""
    if target == "myocardium":
        return np.where(np.isin(codes, L.LV_MYOCARDIUM_CODES), 2, np.where(codes == L.BLOODPOOL, 1, 0))
    if target == "scar":
        lut = np.zeros(256, np.int64)
        lut[L.GRAYZONE], lut[L.SCAR], lut[L.MVO] = 1, 2, 3
        return lut[codes]
    raise ValueError(target)


def brighten_infarct(image: np.ndarray, codes: np.ndarray, rng, low: float = 0.8, high: float = 1.4) -> np.ndarray:
    """``image`` with its infarct (EMIDEC code 3; MVO, dark in LGE, is left) moved to ``low``-``high``
    times the blood pool's mean brightness, each voxel keeping its deviation from the infarct's
    mean; unchanged without both. Meant for a myocardium network that calls bright subendocardial
    infarct blood pool (EMIDEC held-out exams: 30 % of the true infarct); a fine-tuning with it in
    half the samples did not change that (model card of myocardium-cmpunet-emidec)."""
    infarct, blood = codes == L.SCAR, codes == L.BLOODPOOL
    if not infarct.any() or not blood.any():
        return image
    out = image.astype(np.float32, copy=True)
    out[infarct] += float(image[blood].mean()) * float(rng.uniform(low, high)) - float(image[infarct].mean())
    return np.clip(out, 0.0, None)


INFARCT_WALL = 3  # myocardium training batches only: a wall voxel that is infarct (or MVO)


def infarct_weights(y: torch.Tensor, weight: float, border_blood: float = 1.0,
                    reach: int = BORDER_BLOOD_REACH) -> Tuple[torch.Tensor, torch.Tensor]:
    """(y with ``INFARCT_WALL`` back to wall, per-voxel loss weight: ``weight`` on infarct wall,
    ``border_blood`` on blood pool within ``reach`` voxels of the wall (chessboard distance, in the
    patch's own axes), 1 elsewhere). Bright subendocardial infarct is what a myocardium network
    calls blood pool (EMIDEC held-out exams: 30 % of the true infarct), and it is the part of the
    wall a scar measurement cannot lose; weighting it alone taught the wall to grow into bright
    blood in healthy hearts, which the blood next to the wall is there to hold back."""
    mark = y == INFARCT_WALL
    y = torch.where(mark, torch.full_like(y, 2), y)
    w = 1.0 + (weight - 1.0) * mark.float()
    if border_blood != 1.0:
        wall = (y == 2).float().unsqueeze(1)
        pool = F.max_pool2d if y.dim() == 3 else F.max_pool3d
        near = pool(wall, 2 * reach + 1, stride=1, padding=reach).squeeze(1) > 0
        w = torch.where(near & (y == 1), torch.full_like(w, border_blood), w)
    return y, w


MODEL_DRAWN = 2.0  # scar batches: a wall channel of this value is a model's wall, kept as drawn


def sample_batch(cases: Sequence[PreparedCase], task: Task, n: int, rng, bright_infarct: float = 0.0,
                 mark_infarct: bool = False, model_walls: float = 0.0) -> Tuple[torch.Tensor, torch.Tensor]:
    """(x, y) for ``n`` random samples: x (n, 1, *patch) image float32 (+ the true wall as channel
    1 for scar tasks; it is perturbed in ``augment``), y (n, *patch) class indices. Scar tasks: a
    ``model_walls`` fraction of the samples of cases with a ``model_wall`` get that wall instead,
    marked ``MODEL_DRAWN`` so that ``augment`` keeps it as the model drew it. Myocardium
    tasks: a ``bright_infarct`` fraction of the samples get their infarct as bright as blood or
    brighter (``brighten_infarct``); ``mark_infarct`` gives infarct wall voxels the class
    ``INFARCT_WALL`` (still wall; ``infarct_weights`` turns it into a loss weight after the
    geometric augmentation has moved it with the labels)."""
    xs, ys = [], []
    for _ in range(n):
        case = cases[rng.integers(len(cases))]
        if task.target == "localizer":
            vol, lab, focus = case.loc_image, case.loc_lv.astype(np.int64), 0.5
        else:
            vol, lab, _, planes = case.view(task)
            focus = 0.8
        wall = np.isin(lab, L.LV_MYOCARDIUM_CODES) if task.target != "localizer" else lab > 0
        drawn = (case.model_wall if task.target == "scar" and case.model_wall is not None and model_walls
                 and rng.random() < model_walls else None)
        if task.dims == 3:
            size = task.patch
            vol, lab, wall = (_pad_to(a, size) for a in (vol, lab, wall))
            win = _random_window(rng, wall, size, focus)
            v, c, w = vol[win], lab[win], wall[win]
            d = None if drawn is None else _pad_to(drawn, size)[win]
        else:
            axis = int(planes[rng.integers(len(planes))])
            vol, lab, wall = (np.moveaxis(a, axis, 0) for a in (vol, lab, wall))
            has = np.flatnonzero(wall.reshape(wall.shape[0], -1).any(1))
            k = int(has[rng.integers(has.size)]) if has.size and rng.random() < focus else int(rng.integers(wall.shape[0]))
            size = task.patch
            v, c, w = (_pad_to(a[k], size) for a in (vol, lab, wall))
            win = _random_window(rng, w, size, focus)
            v, c, w = v[win], c[win], w[win]
            d = None if drawn is None else _pad_to(np.moveaxis(drawn, axis, 0)[k], size)[win]
        if d is not None:
            w = d.astype(np.float32) * MODEL_DRAWN
        if task.target == "myocardium" and bright_infarct and rng.random() < bright_infarct:
            v = brighten_infarct(v, c, rng)
        y = c if task.target == "localizer" else targets_of(c, task.target)
        if mark_infarct and task.target == "myocardium":
            y = np.where(np.isin(c, (L.SCAR, L.MVO)), INFARCT_WALL, y)
        channels = [v] + ([w.astype(np.float32)] if task.target == "scar" else [])
        xs.append(np.stack(channels).astype(np.float32))
        ys.append(y.astype(np.int64))
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


def _restyled(case: PreparedCase, suffix: str, change: Callable[[np.ndarray, np.ndarray], np.ndarray]
              ) -> PreparedCase:
    """``case`` with ``change(image, codes)`` applied to every view of its image."""
    native = {} if case.native_image is None else dict(native_image=change(case.native_image, case.native_codes))
    return dataclasses.replace(case, name=f"{case.name}-{suffix}", source=f"{case.source}-{suffix}",
                               image=change(case.image, case.codes), **native)


def permuted(case: PreparedCase) -> PreparedCase:
    """``case`` with blood pool and wall brightness exchanged (``swap_brightness``) in every view."""
    return _restyled(case, "permuted", swap_brightness)


def brightened(case: PreparedCase, seed: int = 0) -> Optional[PreparedCase]:
    """``case`` with its infarct as bright as blood or brighter (``brighten_infarct``, the same draw
    in every view); None for a case without infarct."""
    if not (case.codes == L.SCAR).any():
        return None
    return _restyled(case, "bright-infarct",
                     lambda image, codes: brighten_infarct(image, codes, np.random.default_rng(seed)))


def swap_brightness(image: np.ndarray, codes: np.ndarray, a: int = L.BLOODPOOL, b: int = L.MYOCARDIUM
                    ) -> np.ndarray:
    """``image`` with the mean brightness of two labelled tissues exchanged (EMIDEC codes ``a`` and
    ``b``; default blood pool and healthy myocardium), each voxel keeping its deviation from its
    tissue's mean: an LGE image with a dark blood pool next to a bright wall, the contrast order
    permuted. Arrays (k, j, i); a test and a validation set for networks meant for any contrast."""
    out = image.astype(np.float32, copy=True)
    in_a, in_b = codes == a, codes == b
    if in_a.any() and in_b.any():
        mean_a, mean_b = float(image[in_a].mean()), float(image[in_b].mean())
        out[in_a] += mean_b - mean_a
        out[in_b] += mean_a - mean_b
    return out
