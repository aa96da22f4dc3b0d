"""``lvscarseg compare``: how much does the scar figure depend on the method?

Runs several scar methods inside one myocardium and returns each method's scar volume and %, a
consensus (STAPLE, SimpleITK), how often the methods agree (agreement map: the number of methods
calling each voxel scar; pairwise Dice), and a threshold-sensitivity band: scar % for n-SD with
n = 2..6 and FWHM with fractions 0.4 / 0.5 / 0.6.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from . import labels as L
from .errors import InputError
from .masks import dice
from .methods import registry
from .methods.runner import run_scar_method

SENSITIVITY = (("strm", "n", (2.0, 3.0, 4.0, 5.0, 6.0)), ("fwhm", "fraction", (0.4, 0.5, 0.6)))


def staple(masks: Sequence[np.ndarray]) -> np.ndarray:
    """STAPLE consensus probability (float32) of binary masks (SimpleITK's implementation)."""
    import SimpleITK as sitk

    images = [sitk.GetImageFromArray(m.astype(np.uint8)) for m in masks]
    return sitk.GetArrayFromImage(sitk.STAPLE(images, 1.0)).astype(np.float32)


def compare(image: np.ndarray, wall: np.ndarray, grid, method_names: Sequence[str], device: str = "auto",
            sensitivity: bool = True, progress: Callable[[float, str], None] = lambda f, m: None,
            models: str = "best") -> Dict[str, object]:
    """Per-method results, consensus, agreement and the sensitivity band for one image and wall.
    Returns also the masks: ``consensus`` (bool) and ``agreement`` (uint8 counts), (k, j, i)."""
    if len(method_names) < 2:
        raise InputError("--methods: give at least two scar methods to compare")
    methods = [registry.get(m, "scar") for m in method_names]
    values = {m.name: m.defaults() for m in methods}
    model_files = registry.use_model_set(methods, values, models)
    v = grid.voxel_volume_ml
    wall_ml = float(wall.sum() * v)
    results, masks = [], []
    steps = len(methods) + (sum(len(vals) for _, _, vals in SENSITIVITY) if sensitivity else 0)
    done = 0
    for m in methods:
        progress(done / steps, f"method {m.name}")
        t = time.perf_counter()
        res = run_scar_method(m, image, wall, grid, values[m.name], device=device)
        inf = res.infarct
        masks.append(inf)
        results.append({"method": m.name, "scar_ml": float(inf.sum() * v), "scar_percent": 100.0 * inf.sum() / wall.sum(),
                        "seconds": round(time.perf_counter() - t, 3)})
        done += 1
    agreement = np.sum(masks, axis=0).astype(np.uint8)
    consensus = staple(masks) > 0.5 if any(m.any() for m in masks) else np.zeros_like(wall)
    union = agreement > 0
    pairwise = [[dice(a, b) for b in masks] for a in masks]
    out: Dict[str, object] = {
        "lv_myocardium_ml": wall_ml,
        "model_set": models,
        "models": model_files,
        "methods": results,
        "consensus": {"method": "STAPLE (SimpleITK), probability > 0.5", "scar_ml": float(consensus.sum() * v),
                      "scar_percent": 100.0 * consensus.sum() / wall.sum()},
        "agreement": {"all_agree_fraction_of_union": float((agreement[union] == len(masks)).mean()) if union.any() else 1.0,
                      "pairwise_dice": pairwise, "scar_percent_range": [min(r["scar_percent"] for r in results),
                                                                    max(r["scar_percent"] for r in results)]},
    }
    if sensitivity:
        band: List[Dict[str, object]] = []
        for name, param, values in SENSITIVITY:
            m = registry.get(name, "scar")
            for value in values:
                progress(done / steps, f"sensitivity: {name} {param}={value:g}")
                params = m.defaults()
                params[param] = value
                if name == "strm":
                    params["gray_n"] = min(params["gray_n"], value)
                res = run_scar_method(m, image, wall, grid, params)
                inf = res.infarct
                band.append({"method": name, param: value, "scar_percent": 100.0 * inf.sum() / wall.sum()})
                done += 1
        pct = [b["scar_percent"] for b in band]
        out["sensitivity"] = {"runs": band, "scar_percent_min": min(pct), "scar_percent_max": max(pct)}
    out["masks"] = {"consensus": consensus, "agreement": agreement}
    return out


def run(image_path: str, myocardium: str, method_names: Sequence[str], output: Optional[str] = None,
        agreement_path: Optional[str] = None, report_path: Optional[str] = None, device: str = "auto",
        sensitivity: bool = True, progress=lambda f, m: None, models: str = "best") -> Dict[str, object]:
    """The command: read, compare, write the consensus segmentation, agreement map and report."""
    from .files import atomic_output, extension, sha256_of
    from .pipeline import OUTPUT_EXTENSIONS, check_outputs, load_image
    from .report import input_record, write_report
    from .segio import read_label_codes, write_segmentation_unsafe
    from .volume import write_volume

    if output and extension(output) not in OUTPUT_EXTENSIONS:
        raise InputError(f"{output}: output must end in {', '.join(OUTPUT_EXTENSIONS)}")
    if agreement_path and extension(agreement_path) not in (".nrrd", ".nii", ".nii.gz", ".mha"):
        raise InputError(f"{agreement_path}: the agreement map must be .nrrd, .nii, .nii.gz or .mha")
    if report_path and extension(report_path) != ".json":
        raise InputError(f"{report_path}: the report must be a .json file")
    check_outputs([output, agreement_path, report_path], [image_path, myocardium])
    for name in method_names:
        registry.get(name, "scar")
    vol = load_image(image_path)
    codes_in, notes = read_label_codes(myocardium, vol.grid, role="myocardium mask", force=False)
    wall = L.lv_myocardium(codes_in)
    if not wall.any():
        raise InputError(f"{myocardium}: the mask has no LV myocardium")
    from .volume import magnitude_of

    image, psir_note = magnitude_of(vol.array.astype(np.float32))
    notes += [psir_note] if psir_note else []
    result = compare(image, wall, vol.grid, method_names, device, sensitivity, progress, models)
    masks = result.pop("masks")
    result["warnings"] = notes
    result["input"] = input_record(image_path, vol.grid)
    result["inputs"] = {"myocardium": {"path": str(Path(myocardium).resolve()), "sha256": sha256_of(myocardium)}}
    codes = np.where(codes_in == L.BLOODPOOL, L.BLOODPOOL, 0).astype(np.uint8)
    codes[wall] = L.MYOCARDIUM
    codes[masks["consensus"] & wall] = L.SCAR
    if output:
        with atomic_output(output) as tmp:
            write_segmentation_unsafe(tmp, codes, vol.grid)
            if agreement_path:
                with atomic_output(agreement_path) as atmp:
                    write_volume(atmp, masks["agreement"], vol.grid)
    elif agreement_path:
        with atomic_output(agreement_path) as atmp:
            write_volume(atmp, masks["agreement"], vol.grid)
    if report_path:
        write_report(report_path, result)
    return result


def summary_text(result: Dict[str, object]) -> str:
    lines = [f"LV myocardium {result['lv_myocardium_ml']:.1f} mL", "method            scar mL   scar %   seconds"]
    for r in result["methods"]:
        lines.append(f"{r['method']:<16} {r['scar_ml']:8.2f} {r['scar_percent']:8.2f} {r['seconds']:9.2f}")
    c = result["consensus"]
    lines.append(f"{'STAPLE consensus':<16} {c['scar_ml']:8.2f} {c['scar_percent']:8.2f}")
    a = result["agreement"]
    lines.append(f"methods range {a['scar_percent_range'][0]:.1f}-{a['scar_percent_range'][1]:.1f} % of LV; all agree on "
                 f"{100 * a['all_agree_fraction_of_union']:.0f} % of the voxels any method calls scar")
    if "sensitivity" in result:
        s = result["sensitivity"]
        runs = ", ".join(f"{r['method']} {'n' if 'n' in r else 'f'}={r.get('n', r.get('fraction')):g}: {r['scar_percent']:.1f}%"
                         for r in s["runs"])
        lines.append(f"threshold sensitivity {s['scar_percent_min']:.1f}-{s['scar_percent_max']:.1f} % ({runs})")
    return "\n".join(lines)
