"""The engine's jobs, as plain functions: segment, measure, evaluate.

Each job validates everything and computes everything before it writes anything; outputs are
written atomically. Bad input raises InputError (exit 2).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import labels as L
from . import quality
from .errors import InputError
from .files import LABELMAP_OUTPUT_EXTENSIONS, atomic_output, check_output_path, extension, sha256_of
from .methods import registry
from .methods.runner import run_scar_method
from .report import analyze, build_report, write_report
from .segio import read_label_codes, read_labels_native, write_segmentation_unsafe
from .outputs import check_html_path, check_picture_paths, write_dicom, write_html, write_pictures
from .volume import Volume, magnitude_of, read_volume

OUTPUT_EXTENSIONS = (".seg.nrrd",) + LABELMAP_OUTPUT_EXTENSIONS


def parse_ras(text: str, option: str = "--seed") -> Tuple[float, float, float]:
    try:
        values = [float(v) for v in text.replace(" ", "").split(",")]
    except ValueError:
        values = []
    if len(values) != 3 or not all(np.isfinite(values)):
        raise InputError(f"{option} {text}: expected R,A,S in millimetres, e.g. {option} 12.5,-30,8")
    return values[0], values[1], values[2]


def load_image(path, series_uid: Optional[str] = None) -> Volume:
    vol = read_volume(path, role="image", series_uid=series_uid)
    if vol.array.dtype.kind not in "iufb":
        raise InputError(f"{path}: unsupported pixel type {vol.array.dtype}")
    if vol.array.dtype.kind == "f" and not np.all(np.isfinite(vol.array)):
        raise InputError(f"{path}: the image holds NaN or infinite values")
    values = label_map_values(vol.array)
    if values is not None:
        raise InputError(f"{path}: looks like a label map, not an LGE image (only the values "
                         f"{', '.join(f'{v:g}' for v in values)}); give the image itself, and a label map as --myocardium")
    return vol


LABEL_MAP_MAX_VALUES = 8


def label_map_values(array: np.ndarray) -> Optional[List[float]]:
    """The distinct values of an array that holds at most LABEL_MAP_MAX_VALUES whole numbers (a
    label map or mask, not an image: even an 8-bit LGE image has dozens of grey levels), else
    None. Looks at a strided sample first, so a real image costs milliseconds."""
    flat = array.reshape(-1)
    sample = flat[:: max(1, flat.size // 200_000)]
    if np.unique(sample).size > LABEL_MAP_MAX_VALUES:
        return None
    values = np.unique(flat)
    if values.size > LABEL_MAP_MAX_VALUES or not np.all(np.mod(values, 1) == 0):
        return None
    return [float(v) for v in values]


def check_outputs(outputs: Sequence[Optional[str]], inputs: Sequence[Optional[str]]) -> None:
    named = [o for o in outputs if o]
    for out in named:
        check_output_path(out, inputs)
    if len({str(Path(o).resolve()) for o in named}) < len(named):
        raise InputError(f"{named[0]}: the same path is given for two outputs")


def segment(image: str, output: str, myocardium: Optional[str] = None, myocardium_method: Optional[str] = None,
            scar_method: Optional[str] = None, params: Sequence[str] = (), seeds_ras: Sequence[str] = (),
            remote: Optional[str] = None, report_path: Optional[str] = None, device: str = "auto",
            progress: Callable[[float, str], None] = lambda f, m: None,
            uncertainty_path: Optional[str] = None, rv_insertion: Sequence[str] = (),
            bullseye_path: Optional[str] = None, qa_path: Optional[str] = None, lv_center: Optional[str] = None,
            models: str = "best", force: bool = False, series: Optional[str] = None,
            dicom_seg_path: Optional[str] = None, dicom_sr_path: Optional[str] = None,
            html_path: Optional[str] = None, dicom_source: Optional[str] = None) -> Dict[str, object]:
    """Segment the myocardium (unless given) and the scar inside it; write OUT (and the report,
    the uncertainty map, the DICOM SEG); return the report.

    ``series``: which series of a DICOM study folder (number, description or UID; default: the
    only one, or the one that looks like LGE, dicomio.choose_series). ``dicom_seg_path``: also
    write the result as a DICOM Segmentation referencing the source series (a DICOM input only);
    ``dicom_sr_path``: and its measurements as a DICOM SR (TID 1500) referencing that SEG.
    ``html_path``: a one-page HTML report for the patient file (htmlreport.py). ``dicom_source``:
    the DICOM series an image in another format was exported from (as the Slicer module exports
    its volume): the DICOM SEG refers to it; the image must lie on its grid.

    ``device`` (auto/cpu/cuda) is for the deep-learning methods; the classical ones ignore it.
    ``lv_center`` ("R,A,S" mm): a point in the LV cavity; the myocardium network starts there
    instead of localizing the LV. ``models``: the model set (models.MODEL_SETS) that names every
    model file not named by a parameter. ``force``: use a myocardium or remote mask that looks
    like another scan's (segio.mismatch) instead of refusing it."""
    t0 = time.perf_counter()
    timing: Dict[str, float] = {}
    warnings: List[str] = []
    if extension(output) not in OUTPUT_EXTENSIONS:
        raise InputError(f"{output}: output must end in {', '.join(OUTPUT_EXTENSIONS)}")
    if report_path and extension(report_path) != ".json":
        raise InputError(f"{report_path}: the report must be a .json file")
    check_outputs([output, report_path, uncertainty_path, bullseye_path, qa_path, dicom_seg_path, dicom_sr_path,
                   html_path], [image, myocardium, remote])
    check_html_path(html_path)
    if dicom_sr_path and not dicom_seg_path:
        raise InputError("--dicom-sr refers to the DICOM SEG it measured: give --dicom-seg too")
    if dicom_source and not dicom_seg_path:
        raise InputError("--dicom-source is the series a --dicom-seg refers to: give --dicom-seg too")
    if dicom_seg_path:
        from .dicomseg import check_source

        check_source(dicom_source or image)
    check_picture_paths(bullseye_path, qa_path)
    rv_points = parse_rv_insertion(rv_insertion)

    # Resolve methods and parameters before reading any voxel: a typo fails in milliseconds.
    scar = registry.get(scar_method or registry.default_method("scar"), "scar")
    selected = [scar]
    myo_method = None
    if myocardium is None:
        myo_method = registry.get(myocardium_method or registry.default_method("myocardium"), "myocardium")
        selected.append(myo_method)
    elif myocardium_method:
        raise InputError("give either --myocardium or --myocardium-method, not both")
    if uncertainty_path and extension(uncertainty_path) not in (".nrrd", ".nii", ".nii.gz", ".mha"):
        raise InputError(f"{uncertainty_path}: the uncertainty map must be .nrrd, .nii, .nii.gz or .mha")
    values = registry.resolve_params(selected, params)
    model_files = registry.use_model_set(selected, values, models)
    center_ras = parse_ras(lv_center, "--lv-center") if lv_center else None
    if center_ras is not None and myo_method is None:
        warnings.append("--lv-center is for automatic myocardium segmentation; with --myocardium it is ignored")
    if uncertainty_path:  # the map is the disagreement of test-time augmentation
        if not any(m.family == "deep learning" for m in selected):
            raise InputError("--uncertainty needs a deep-learning method (a myocardium model or cnn/unet/cmpunet/gan)")
        for m in selected:
            for flag in ("tta", "myo_tta"):
                if flag in values[m.key]:
                    values[m.key][flag] = True
    seeds = [parse_ras(s) for s in seeds_ras]
    if seeds and "seeds" not in scar.optional_inputs:
        warnings.append(f"scar method {scar.name} does not use seed points; --seed ignored")
    if remote and "remote" not in scar.optional_inputs:
        warnings.append(f"scar method {scar.name} does not use a remote mask; --remote ignored")

    progress(0.02, "reading image")
    chosen_series = None
    if Path(image).is_dir() and not dicom_source:  # a series folder, or a study with several (subfolders or mixed)
        from .dicomio import choose_series

        chosen_series = choose_series(image, series)
    elif series is not None and not dicom_source:
        raise InputError(f"--series {series}: the input {image} is not a DICOM folder")
    if chosen_series is not None:
        folders = {f.parent for f in chosen_series.files}
        if len(folders) > 1:
            raise InputError(f"{image}: series {chosen_series.number} ({chosen_series.description}) is spread over "
                             f"{len(folders)} folders; put its files in one folder")
        vol = load_image(folders.pop(), chosen_series.uid)
    else:
        vol = load_image(image)
    grid = vol.grid
    if dicom_source:  # the SEG refers to this series; the image must be its voxels
        from .dicomio import choose_series

        chosen_series = choose_series(dicom_source, series)
        source_grid = read_volume(chosen_series.files[0].parent, role="DICOM source", series_uid=chosen_series.uid).grid
        if not source_grid.same_as(grid, tol_mm=1e-3):
            raise InputError(f"{image}: not on the grid of the DICOM source {dicom_source} "
                             f"({grid.differences(source_grid)}); a DICOM SEG must lie on its source's voxels")
    timing["read_image"] = time.perf_counter() - t0
    if min(grid.shape) == 1:
        warnings.append("the image has a single slice; 3D measurements are per that slice only")

    t = time.perf_counter()
    extra_inputs: Dict[str, object] = {}
    image_f32, psir_note = magnitude_of(vol.array.astype(np.float32, copy=False),
                                        chosen_series.psir if chosen_series is not None else None)
    if psir_note:
        warnings.append(psir_note)
    uncertainty = None
    if myo_method is not None:
        center = {}
        if center_ras is not None:
            kji = grid.ras_to_kji_index(center_ras)
            if not grid.contains_kji(kji):
                raise InputError(f"--lv-center {lv_center}: the point lies outside the image")
            center = {"lv_center_kji": kji}
        progress(0.05, f"myocardium: {myo_method.name}")
        codes_in, uncertainty, details, notes = myo_method.function()(
            image_f32, grid.spacing, device=device, progress=lambda f, m: progress(0.05 + 0.45 * f, m),
            **values[myo_method.key], **center)
        warnings.extend(notes)
        wall = L.lv_myocardium(codes_in)
        if not wall.any():
            raise InputError(f"{image}: the {myo_method.name} model found no LV myocardium in this image; "
                             "check that it is an LGE scan of the heart, or give --myocardium MASK")
        myo_record = {"name": myo_method.name, "params": values[myo_method.key], "details": details}
    else:
        codes_in, notes = read_label_codes(myocardium, grid, role="myocardium mask", force=force)
        warnings.extend(notes)
        wall = L.lv_myocardium(codes_in)
        if not wall.any():
            raise InputError(f"{myocardium}: the mask has no LV myocardium (codes 2-5 or a binary mask)")
        extra_inputs["myocardium"] = {"path": str(Path(myocardium).resolve()), "sha256": sha256_of(myocardium)}
        myo_record = {"name": "given", "params": {}, "source": str(Path(myocardium).resolve())}
    timing["myocardium"] = time.perf_counter() - t

    remote_mask = None
    if remote:
        remote_codes, notes = read_label_codes(remote, grid, role="remote mask", force=force)
        warnings.extend(notes)
        remote_mask = remote_codes > 0
        extra_inputs["remote"] = {"path": str(Path(remote).resolve()), "sha256": sha256_of(remote)}
    seed_idx = []
    for ras in seeds:
        kji = grid.ras_to_kji_index(ras)
        if not grid.contains_kji(kji):
            raise InputError(f"--seed {ras[0]:g},{ras[1]:g},{ras[2]:g}: the point lies outside the image")
        seed_idx.append(kji)

    t = time.perf_counter()
    start = 0.5 if myo_method else 0.1
    progress(start, f"scar: {scar.name}")
    bloodpool = codes_in == L.BLOODPOOL  # a coded input's (or the model's) cavity helps the border guard
    result = run_scar_method(scar, image_f32, wall, grid, values[scar.name],
                             seeds=seed_idx, remote=remote_mask, bloodpool=bloodpool if bloodpool.any() else None,
                             progress=lambda f, m: progress(start + (0.9 - start) * f, m), device=device,
                             wall_given=myo_method is None)
    timing["scar"] = time.perf_counter() - t
    warnings.extend(result.warnings)
    if result.uncertainty is not None:
        uncertainty = result.uncertainty if uncertainty is None else np.maximum(uncertainty, result.uncertainty)

    codes = np.where(bloodpool, L.BLOODPOOL, L.BACKGROUND).astype(np.uint8)
    codes[wall] = L.MYOCARDIUM
    # Scar may reach a voxel beyond a too-tight contour (contour repair); it is LV wall then.
    for mask, code in ((result.grayzone, L.GRAYZONE), (result.scar, L.SCAR), (result.mvo, L.MVO)):
        if mask is not None:
            codes[mask if code == L.SCAR else (mask & wall)] = code

    methods = {"myocardium": myo_record,
               "scar": {"name": scar.name, "params": values[scar.name], "details": result.info}}
    progress(0.9, "writing outputs")
    t = time.perf_counter()
    # Both outputs go to temporary files first; the report is renamed just before the
    # segmentation, so a failure at any point leaves neither.
    with atomic_output(output) as seg_tmp:
        write_segmentation_unsafe(seg_tmp, codes, grid)
        timing["write"] = time.perf_counter() - t
        t = time.perf_counter()
        analysis = analyze(codes, grid, image_f32, rv_points)
        timing["measurements"] = time.perf_counter() - t
        timing["total"] = time.perf_counter() - t0
        report = build_report(image, grid, codes, methods, warnings, timing, extra_inputs, output=output,
                              analysis=analysis)
        report["model_set"] = models
        report["models"] = model_files
        report["quality"] = quality.assess(codes, grid, myo_method is None, report["warnings"],
                                           myo_record.get("details"), analysis["frame"])
        write_pictures(image_f32, codes, grid, analysis, bullseye_path, qa_path, Path(image).name,
                       quality.banner(report["quality"]))
        if chosen_series is not None:
            report["input"]["dicom_series"] = {"uid": chosen_series.uid, "number": chosen_series.number,
                                               "description": chosen_series.description, "psir": chosen_series.psir}
        if dicom_seg_path:
            report.update(write_dicom(dicom_seg_path, dicom_sr_path, report, codes, grid, chosen_series.files, methods,
                                      model_files, wall_given=myo_method is None))
        if html_path:
            report["html_report"] = write_html(html_path, report, image_f32, codes, grid, analysis, bullseye_path, qa_path,
                                               Path(image).name)
        if uncertainty_path:
            from .volume import write_volume

            with atomic_output(uncertainty_path) as unc_tmp:
                write_volume(unc_tmp, (uncertainty if uncertainty is not None else np.zeros(grid.shape, np.float32))
                             .astype(np.float32), grid)
                report["uncertainty_map"] = str(Path(uncertainty_path).resolve())
                if report_path:
                    write_report(report_path, report)
        elif report_path:
            write_report(report_path, report)
    return report


def parse_rv_insertion(points: Sequence[str]) -> List[Tuple[float, float, float]]:
    if len(points) > 2:
        raise InputError("--rv-insertion: give at most two points (the anterior and the inferior RV insertion)")
    return [parse_ras(p, "--rv-insertion") for p in points]


def measure(image: str, segmentation: str, report_path: Optional[str] = None, rv_insertion: Sequence[str] = (),
            bullseye_path: Optional[str] = None, qa_path: Optional[str] = None,
            html_path: Optional[str] = None) -> Dict[str, object]:
    """Measure an existing segmentation (e.g. after manual edits) on the image's grid: volumes,
    masses, per slice, AHA 17 segments; optionally the bull's-eye and QA pictures."""
    t0 = time.perf_counter()
    if report_path and extension(report_path) != ".json":
        raise InputError(f"{report_path}: the report must be a .json file")
    check_outputs([report_path, bullseye_path, qa_path, html_path], [image, segmentation])
    check_picture_paths(bullseye_path, qa_path)
    check_html_path(html_path)
    rv_points = parse_rv_insertion(rv_insertion)
    vol = load_image(image)
    codes, warnings = read_label_codes(segmentation, vol.grid, role="segmentation", force=False)
    methods = {"myocardium": {"name": "given", "params": {}}, "scar": {"name": "given", "params": {}},
               "segmentation": {"path": str(Path(segmentation).resolve()), "sha256": sha256_of(segmentation)}}
    image_f32, psir_note = magnitude_of(vol.array.astype(np.float32, copy=False))
    warnings += [psir_note] if psir_note else []
    analysis = analyze(codes, vol.grid, image_f32, rv_points)
    report = build_report(image, vol.grid, codes, methods, warnings, {"total": time.perf_counter() - t0},
                          analysis=analysis)
    report["quality"] = quality.assess(codes, vol.grid, True, report["warnings"], frame=analysis["frame"])
    write_pictures(image_f32, codes, vol.grid, analysis, bullseye_path, qa_path, Path(image).name,
                   quality.banner(report["quality"]))
    if html_path:
        report["html_report"] = write_html(html_path, report, image_f32, codes, vol.grid, analysis, bullseye_path,
                                           qa_path, Path(image).name)
    if report_path:
        write_report(report_path, report)
    return report


def evaluate(prediction: str, reference: str, image: Optional[str] = None,
             rv_insertion: Sequence[str] = ()) -> Dict[str, object]:
    """Dice, HD, HD95, ASSD and AVD per structure, on the reference's grid, and the per-AHA-segment
    differences (prediction - reference) of infarct % and transmurality. The LV frame is the
    reference's; ``image`` (on the same grid) lets it find the septum, else give the RV insertion
    points or accept the anatomical prior (flagged uncertain)."""
    from . import aha
    from .metrics import evaluate_codes

    if not Path(reference).exists():
        raise InputError(f"{reference}: file not found")
    rv_points = parse_rv_insertion(rv_insertion)
    ref_codes, grid = read_labels_native(reference)
    pred_codes, warnings = read_label_codes(prediction, grid, role="prediction", allow_empty=True)
    result: Dict[str, object] = dict(evaluate_codes(pred_codes, ref_codes, grid.spacing))
    image_array = None
    if image:
        vol = load_image(image)
        if not vol.grid.same_as(grid):
            raise InputError(f"{image}: not on the reference's grid ({vol.grid.describe()} vs {grid.describe()})")
        image_array = vol.array.astype(np.float32, copy=False)
    frame = aha.lv_frame(ref_codes, grid, image_array, rv_points)
    if frame is not None:
        ref_rows = aha.segment_table(ref_codes, grid, frame)
        pred_rows = aha.segment_table(pred_codes, grid, frame)
        result["aha_segments"] = [
            {"segment": r["segment"], "name": r["name"], "reference_scar_percent": r["scar_percent"],
             "prediction_scar_percent": p["scar_percent"], "scar_percent_difference": p["scar_percent"] - r["scar_percent"],
             "reference_transmurality_mean": r["transmurality_mean"],
             "prediction_transmurality_mean": p["transmurality_mean"],
             "transmurality_difference": p["transmurality_mean"] - r["transmurality_mean"]}
            for r, p in zip(ref_rows, pred_rows)]
        result["lv_frame"] = frame.to_json()
        warnings = list(warnings) + frame.warnings
    result["warnings"] = warnings
    return result
