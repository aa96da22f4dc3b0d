"""Inference: the myocardium (localize, verify, re-centre, search) and the scar networks' output
on the input grid. Arrays are (k, j, i) on the input grid unless named ``*_work`` (working grid);
spacings in k, j, i order (mm). The steps are in loading.py, prediction.py and localization.py."""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from ..masks import slice_axis
from . import localization, prep
from .loading import load_model
from .localization import (SWITCH_MARGIN, box_at, centre_candidate, localize_candidates, peak_candidates,
                           recentred, run_on, search_lv, search_thresholds)
from .networks import pick_device
from .one_ventricle import keep_one_ventricle, trim_outgrowths
from .prediction import inference_plan, predict, to_working


def segment_myocardium(image: np.ndarray, spacing_kji, method: str, device: str = "auto", tta: bool = False,
                       model_path: Optional[str] = None, localizer_path: Optional[str] = None,
                       progress=lambda f, m: None, localize_lv: bool = True,
                       lv_center_kji: Optional[Tuple[float, float, float]] = None
                       ) -> Tuple[np.ndarray, Optional[np.ndarray], Dict, List[str]]:
    """(codes (0 background, 1 blood pool, 2 LV wall) on the input grid, disagreement map or None,
    details, warnings) for a myocardium network ``method`` (unet, cmpunet, gan).
    ``lv_center_kji``: a point inside the LV cavity (input voxel index, k, j, i), e.g. a reader's
    click: no localizer, no search; the crop is centred there and the LV containing (or nearest
    to) the point is kept. ``localize_lv`` False: the network searches the whole image (slower; for
    images that are already a crop around the heart)."""
    from .. import labels as L

    warnings: List[str] = []
    task_name = f"myocardium-{method}"
    model, task, info = load_model(task_name, model_path, device)  # fail on a missing model before localizing
    plan = inference_plan(task, spacing_kji)
    low, accept = search_thresholds(plan)
    boxes: List[Tuple[slice, ...]] = [tuple(slice(0, n) for n in image.shape)]  # the whole image unless localized
    loc: Dict[str, object] = {"used": False}
    localized = False
    if lv_center_kji is not None:
        boxes = [box_at(lv_center_kji, image.shape, spacing_kji)]
        loc = {"used": False, "lv_center_kji": [round(float(v), 2) for v in lv_center_kji]}
    elif localize_lv:
        progress(0.05, "locating the LV")
        found, loc = localize_candidates(image, spacing_kji, device, localizer_path)
        localized = bool(found)
        if found:
            boxes = [b for b, _ in found]
            loc["candidates"] = [{"box_kji": [[s.start, s.stop] for s in b], "localizer_score": round(score, 1)}
                                 for b, score in found]
            for box in peak_candidates(found, loc.pop("peaks_kji", []), image.shape, spacing_kji):
                boxes.append(box)
                loc["candidates"].append({"box_kji": [[s.start, s.stop] for s in box], "localizer_score": None,
                                          "source": "the peak of an oversized candidate"})
            centre = centre_candidate(image.shape, spacing_kji, boxes)
            if centre is not None:
                boxes.append(centre)
                loc["candidates"].append({"box_kji": [[s.start, s.stop] for s in centre], "localizer_score": None,
                                          "source": "the image's centre"})
        else:
            warnings.append("the LV localizer found no LV; the whole image was searched")
    dev = pick_device(device)
    crop, chosen = None, 0
    for i, box in enumerate(boxes):
        progress(0.15 + 0.6 * i / len(boxes), f"myocardium: {method}" + (f" (LV candidate {i + 1})" if i else ""))
        candidate = run_on(image, box, spacing_kji, model, task, dev, tta, lv_center_kji)
        if len(boxes) > 1:
            loc["candidates"][i]["lv_plausibility"] = round(candidate.plausibility, 3)
            # The localizer's strongest candidate stands unless another is clearly more LV-like.
            if crop is not None and candidate.plausibility <= crop.plausibility + SWITCH_MARGIN:
                continue
        crop, chosen = candidate, i
    if localized or lv_center_kji is not None:  # a crop placed on an LV: re-centre it and judge it
        if localized:
            loc["chosen"] = chosen
            if chosen:
                source = loc["candidates"][chosen].get("source")
                which = (f"the box at {source}" if source else f"candidate {chosen + 1} of {len(boxes)}")
                warnings.append(f"the LV localizer's strongest candidate did not look like an LV to the {method} "
                                f"myocardium model; {which} was used (check the LV position)")
        else:
            progress(0.5, "myocardium: the crop around the given LV centre")
        crop, loc["recentred"] = recentred(image, spacing_kji, model, task, dev, tta, crop)
        score = crop.plausibility
        loc["lv_plausibility"] = round(score, 3)
        if score < low and not localized:  # the reader's point is not searched past
            warnings.append(f"the wall found around the given LV centre does not look like an LV to the {method} "
                            f"myocardium model (score {score:.2f}, usually > {low:g}); check the wall")
        elif score < low:
            # An output that does not look like an LV (on EMIDEC's training exams, every exam whose
            # LV was missed scored < 0.75) starts a search with windows over the image; a window is
            # taken only when its output clearly is one.
            progress(0.5, "myocardium: the LV found does not look like one; searching the image")
            found, n_windows, finished = search_lv(image, spacing_kji, model, task, dev, progress)
            found_score = found.plausibility if found is not None else 0.0
            loc["search"] = {"windows": n_windows, "best_lv_plausibility": round(found_score, 3), "finished": finished}
            if found is not None and not finished:
                warnings.append(f"the search for the LV stopped after {n_windows} of its windows, those nearest the "
                                f"image's centre (at most {localization.MAX_SEARCH_WINDOWS} windows and "
                                f"{localization.SEARCH_TIME_LIMIT_S:g} s; the best window so far was used if it "
                                "looked like an LV)")
            if found is not None and found_score >= accept:
                # the window was scored without test-time augmentation; rerun it only when asked for
                crop = run_on(image, found.box, spacing_kji, model, task, dev, tta) if tta else found
                crop, passes = recentred(image, spacing_kji, model, task, dev, tta, crop)
                loc["recentred"] += passes
                loc["searched"] = True
                warnings.append(f"the LV localizer's LV did not look like an LV to the {method} myocardium model "
                                f"(score {score:.2f}); a search of the image found a better one (check the LV position)")
            else:
                warnings.append(f"the LV found does not look like an LV to the {method} myocardium model (score "
                                f"{score:.2f}, usually > {low:g}); check its position and the wall")
        loc["box_kji"] = [[s.start, s.stop] for s in crop.box]
    cls = crop.cls.copy()
    cls[~crop.lv] = 0
    # a second cavity with a wall drawn around it (the RV) is not the LV's, nor wall jutting out of its ring
    point = None if lv_center_kji is None else [float(p) - b.start for p, b in zip(lv_center_kji, crop.box)]
    axis = slice_axis(tuple(spacing_kji)[::-1])
    voxel_ml = float(np.prod(spacing_kji)) / 1000.0
    one, rival = keep_one_ventricle(cls, spacing_kji, axis, point)
    trimmed = trim_outgrowths(one, spacing_kji, axis)
    removed = {"second_ventricle_removed_ml": round(float(((cls > 0) & (one == 0)).sum()) * voxel_ml, 2),
               "wall_outgrowth_removed_ml": round(float(((one > 0) & (trimmed == 0)).sum()) * voxel_ml, 2)}
    cls = trimmed
    if rival and point is None:  # (a reader's point already decided)
        warnings.append(f"the {method} myocardium model drew two blood pools with a wall around each (one may be "
                        "the RV) and which is the LV is unclear: check the LV position, or give --lv-center")
    codes = np.zeros(image.shape, np.uint8)
    codes[crop.box] = np.where(cls == 2, L.MYOCARDIUM, np.where(cls == 1, L.BLOODPOOL, L.BACKGROUND))
    uncertainty = None
    if crop.unc_work is not None:
        uncertainty = np.zeros(image.shape, np.float32)
        uncertainty[crop.box] = prep.resample(crop.unc_work, cls.shape, "linear").numpy()
    details = {"model": info.get("name"), "model_sha256": info.get("sha256"), "localizer": loc,
               "working_spacing_mm": task.spacing_mm, "inference": plan.description,
               "tta": tta, **removed}
    if not (codes == L.MYOCARDIUM).any():
        warnings.append(f"the {method} myocardium model found no LV wall")
    return codes, uncertainty, details, warnings


def scar_probabilities(image: np.ndarray, wall: np.ndarray, spacing_kji, method: str, device: str = "auto",
                       tta: bool = False, model_path: Optional[str] = None):
    """(probabilities (healthy, grayzone, scar, mvo) on the input grid, disagreement or None, the
    model's manifest with ``inference``: how the network saw the image) for a wall-cropped image
    and its wall mask."""
    model, task, info = load_model(f"scar-{method}", model_path, device)
    plan = inference_plan(task, spacing_kji)
    x, shape = to_working(image, spacing_kji, plan.spacing_mm)
    wall_work = prep.resample(torch.from_numpy(wall.astype(np.float32)), shape, "linear") >= 0.5
    xw = torch.stack([x, wall_work.float()])
    probs_work, unc_work = predict(model, task, xw, pick_device(device), tta, plan.planes)
    probs = prep.resample(probs_work, image.shape, "linear")
    unc = prep.resample(unc_work, image.shape, "linear").numpy() if unc_work is not None else None
    return probs.numpy(), unc, dict(info, inference=plan.description)
