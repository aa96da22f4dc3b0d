"""``lvscarseg batch``: segment every volume of a folder; per case the ``.seg.nrrd``, report JSON
and QA picture, and one ``summary.csv``.

Each case runs as its own ``lvscarseg segment`` process, so a crash or a bad file stays that
case's problem, and ``--jobs N`` runs N at once. A case is finished when its three outputs exist
(they are written atomically), so a rerun after an interruption does only what is missing;
failures are recorded in ``NAME.error.txt`` and retried on the next run.

A cohort bigger than one machine: ``num_parts`` N and ``part_id`` K (0..N-1) give a process the
cases K, K+N, K+2N, ... of the sorted list (as nnU-Net splits prediction), so a job array runs one
part per machine into one output folder; each part writes ``summary.partK-of-N.csv``, and
``summarize(OUT_DIR)`` makes ``summary.csv`` of every case found there.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from .argv import segment_argv
from .errors import InputError
from .files import IMAGE_EXTENSIONS, csv_text, extension, write_text_atomic

SUMMARY_KEYS = ["case", "status", "quality", "quality_reasons", "lv_myocardium_ml", "lv_mass_g", "scar_ml", "scar_percent", "mvo_ml", "grayzone_ml",
                "myocardium_method", "scar_method", "seconds", "warnings", "error"]


def _stem(p: Path) -> str:
    ext = extension(p)
    return p.name[: -len(ext)] if ext else p.name


def find_images(folder: Path) -> List[Path]:
    """Image files (and DICOM series folders) directly in ``folder``; a phantom layout's images/."""
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    if (folder / "images").is_dir() and not any(extension(p) in IMAGE_EXTENSIONS for p in folder.iterdir()):
        folder = folder / "images"
    out = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_file() and extension(p) in IMAGE_EXTENSIONS:
            out.append(p)
        elif p.is_dir() and any(q.suffix.lower() == ".dcm" or q.suffix == "" for q in p.iterdir() if q.is_file()):
            out.append(p)
    if not out:
        raise InputError(f"{folder}: no images (.nrrd .nhdr .nii .nii.gz .mha .mhd or DICOM folders)")
    return out


# What mask files add to the image's name: case01.nrrd pairs with case01_myo.nrrd, case01.seg.nrrd, ...
MASK_SUFFIXES = ("", "_myo", "_myocardium", "_seg", "_label", "_labels", "_mask", ".seg")


def _mask_for(image: Path, mask_dir: Optional[Path]) -> Optional[Path]:
    """The mask of an image in ``mask_dir``: the same name, or the name plus a common suffix
    (MASK_SUFFIXES, any case), exact names first."""
    if mask_dir is None:
        return None
    stem = _stem(image).lower()
    masks = {}
    for p in sorted(mask_dir.iterdir()):
        if extension(p) in IMAGE_EXTENSIONS or extension(p) == ".seg.nrrd":
            masks.setdefault(_stem(p).lower(), p)
    for suffix in MASK_SUFFIXES:
        if stem + suffix in masks:
            return masks[stem + suffix]
    return None


def outputs_of(out_dir: Path, name: str) -> Dict[str, Path]:
    return {"seg": out_dir / f"{name}.seg.nrrd", "report": out_dir / f"{name}.json", "qa": out_dir / f"{name}_qa.png",
            "error": out_dir / f"{name}.error.txt", "dicom_seg": out_dir / f"{name}_seg.dcm",
            "dicom_sr": out_dir / f"{name}_sr.dcm", "html": out_dir / f"{name}.html"}


def _extra_outputs(image: Path, extras: Sequence[str]) -> List[str]:
    """The per-case extras (dicom_seg, dicom_sr, html) this case gets: the DICOM ones for DICOM inputs."""
    return [x for x in extras if x == "html" or image.is_dir()]


def run_batch(input_dir, out_dir, myocardium_dir=None, jobs: int = 1, segment_options: Optional[Dict] = None,
              progress: Callable[[float, str], None] = lambda f, m: None, auto_missing: bool = False,
              num_parts: int = 1, part_id: int = 0, extras: Sequence[str] = ()) -> Dict[str, object]:
    """Segment every image of ``input_dir`` into ``out_dir`` (see the module docstring). With
    ``myocardium_dir``, every image must have its mask there (MASK_SUFFIXES) before anything runs;
    ``auto_missing`` segments those without one automatically instead of stopping.
    ``segment_options``: what every case's ``segment`` gets (argv.segment_argv's keywords: device,
    models, params, scar_method, myocardium_method). ``num_parts``/``part_id``: this process's share
    of the cases (see the module docstring). ``extras``: also per case "dicom_seg" (NAME_seg.dcm),
    "dicom_sr" (NAME_sr.dcm) for DICOM inputs, "html" (NAME.html)."""
    if num_parts < 1 or not 0 <= part_id < num_parts:
        raise InputError(f"--part-id {part_id} --num-parts {num_parts}: the part must be 0 to {num_parts - 1}")
    inp, out = Path(input_dir), Path(out_dir)
    images = find_images(inp)[part_id::num_parts]
    mask_dir = Path(myocardium_dir) if myocardium_dir else None
    if mask_dir is not None and not mask_dir.is_dir():
        raise InputError(f"{mask_dir}: --myocardium-dir is not a folder")
    if out.resolve() == inp.resolve():
        raise InputError(f"{out}: write the outputs to another folder than the inputs")
    out.mkdir(parents=True, exist_ok=True)
    names = [_stem(p) for p in images]
    if len(set(names)) < len(names):
        raise InputError(f"{inp}: two images share a name; outputs would collide")
    masks = {name: _mask_for(img, mask_dir) for img, name in zip(images, names)}
    missing_masks = [name for name in names if mask_dir is not None and masks[name] is None]
    if missing_masks and not auto_missing:
        raise InputError(f"{mask_dir}: no mask for {len(missing_masks)} of {len(names)} cases: "
                         f"{', '.join(missing_masks[:10])}{' ...' if len(missing_masks) > 10 else ''}; name masks like "
                         "the images (or with _myo, _myocardium, _seg, _label), or give --auto-missing to segment "
                         "those automatically")
    todo, skipped = [], 0
    for img, name in zip(images, names):
        o = outputs_of(out, name)
        if all(o[k].exists() for k in ["seg", "report", "qa"] + _extra_outputs(img, extras)):
            skipped += 1
            continue
        todo.append((img, name, masks[name]))
    env = dict(os.environ)
    if jobs > 1:  # one core per case: parallel cases beat threads inside one case
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    done = 0
    t0 = time.perf_counter()

    def one(item):
        img, name, mask = item
        o = outputs_of(out, name)
        cmd = [sys.executable, "-m", "LVScarSegLogic"] + segment_argv(
            str(img), str(o["seg"]), report=str(o["report"]), qa=str(o["qa"]), quiet=True,
            myocardium=str(mask) if mask is not None else None, **(segment_options or {}),
            **{x: str(o[x]) for x in _extra_outputs(img, extras)})
        # a killed earlier run may have left hidden temporary files of this case: they are never
        # outputs (outputs are renamed into place whole), so remove them
        for stale in list(out.glob(f".{name}.partial-*")) + list(out.glob(f".{name}_qa.partial-*")):
            stale.unlink()
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if r.returncode in (0, 3):  # 3: written, with a "failed" quality verdict in the report
            if o["error"].exists():
                o["error"].unlink()
        else:
            lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
            write_text_atomic(o["error"], (lines[-1] if lines else f"exit {r.returncode}") + "\n")
        return name, r.returncode, time.perf_counter() - t

    results = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for name, rc, seconds in pool.map(one, todo):
            done += 1
            results.append((name, rc, seconds))
            progress(done / max(len(todo), 1), f"{name}: {'done' if rc == 0 else 'FAILED'} ({done}/{len(todo)})")
    rows = [summary_row(out, name, {n: s for n, _, s in results}.get(name)) for name in names]
    summary = out / ("summary.csv" if num_parts == 1 else f"summary.part{part_id}-of-{num_parts}.csv")
    write_text_atomic(summary, summary_csv(rows))
    failed = [r["case"] for r in rows if r["status"] == "failed"]
    return {"cases": len(names), "processed": len(todo), "skipped": skipped, "failed": failed,
            "seconds": time.perf_counter() - t0, "summary": str(summary),
            "without_mask": missing_masks}


def summary_row(out: Path, name: str, seconds: Optional[float]) -> Dict[str, object]:
    o = outputs_of(out, name)
    row: Dict[str, object] = {"case": name, "status": "missing"}
    if o["report"].exists() and o["seg"].exists():
        rep = json.loads(o["report"].read_text())
        v = rep["volumes_ml"]
        verdict = rep.get("quality", {})
        row.update(status="failed" if verdict.get("status") == "failed" else "done",
                   quality=verdict.get("status", ""), quality_reasons=" | ".join(verdict.get("reasons", [])),
                   lv_myocardium_ml=round(v["lv_myocardium"], 3), lv_mass_g=round(rep["lv_mass_g"], 3),
                   scar_ml=round(v["scar"], 3), scar_percent=round(rep["scar_percent"], 3), mvo_ml=round(v["mvo"], 3),
                   grayzone_ml=round(v["grayzone"], 3), myocardium_method=rep["methods"]["myocardium"]["name"],
                   scar_method=rep["methods"]["scar"]["name"],
                   seconds=round(seconds if seconds is not None else rep.get("timing_s", {}).get("total", 0.0), 2),
                   warnings=" | ".join(rep.get("warnings", [])))
    elif o["error"].exists():
        row.update(status="failed", error=o["error"].read_text().strip())
    return row


def summary_csv(rows: List[Dict[str, object]]) -> str:
    return csv_text(rows, SUMMARY_KEYS)


def summarize(out_dir) -> Dict[str, object]:
    """``summary.csv`` of every case in ``out_dir`` (a report, or an error file, per case), as the
    parts of a split batch left them; the per-part summaries are kept."""
    out = Path(out_dir)
    if not out.is_dir():
        raise InputError(f"{out}: not a folder")
    names = sorted({p.name[: -len(".json")] for p in out.glob("*.json")} |
                   {p.name[: -len(".error.txt")] for p in out.glob("*.error.txt")})
    if not names:
        raise InputError(f"{out}: no case reports (NAME.json) or errors here to summarize")
    rows = [summary_row(out, name, None) for name in names]
    write_text_atomic(out / "summary.csv", summary_csv(rows))
    failed = [r["case"] for r in rows if r["status"] != "done"]
    return {"cases": len(rows), "failed": failed, "summary": str(out / "summary.csv")}
