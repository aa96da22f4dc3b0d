"""The ``lvscarseg`` commands: each calls its job and prints what it did (exit codes in
cli/__init__.py)."""
from __future__ import annotations

import json
import os
import sys

from ..errors import InputError


def _cmd_segment(a, progress) -> int:
    from ..pipeline import segment
    from ..report import summary_text

    report = segment(a.image, a.output, myocardium=a.myocardium, myocardium_method=a.myocardium_method,
                     scar_method=a.scar_method, params=a.param, seeds_ras=a.seed, remote=a.remote,
                     report_path=a.report, device=a.device, progress=progress, uncertainty_path=a.uncertainty,
                     rv_insertion=a.rv_insertion, bullseye_path=a.bullseye, qa_path=a.qa, lv_center=a.lv_center,
                     models=a.models, force=a.force, series=a.series, dicom_seg_path=a.dicom_seg,
                     dicom_sr_path=a.dicom_sr, html_path=a.html, dicom_source=a.dicom_source)
    progress.done("segmentation written")
    print(summary_text(report))
    print(f"segmentation: {report['output']}")
    for key, label in (("dicom_seg", "DICOM SEG"), ("dicom_sr", "DICOM SR"), ("html_report", "HTML report")):
        if key in report:
            print(f"{label}: {report[key]['path']}")
    if a.report:
        print(f"report: {os.path.abspath(a.report)}")
    return _quality_exit(report)


def _quality_exit(report) -> int:
    """3 when the result's quality verdict is "failed" (outputs are written; the numbers are not
    to be trusted), else 0; the verdict is printed to stderr too, so a pipeline sees it."""
    verdict = report.get("quality", {})
    if verdict.get("status") != "ok":
        print(f"lvscarseg: quality {verdict.get('status')}: " + "; ".join(verdict.get("reasons", [])), file=sys.stderr)
    return 3 if verdict.get("status") == "failed" else 0


def _cmd_measure(a, progress) -> int:
    from ..pipeline import measure
    from ..report import summary_text, to_json

    report = measure(a.image, a.segmentation, a.report, rv_insertion=a.rv_insertion, bullseye_path=a.bullseye,
                     qa_path=a.qa, html_path=a.html)
    if a.report:
        print(summary_text(report))
        print(f"report: {os.path.abspath(a.report)}")
    else:
        sys.stdout.write(to_json(report))
    return _quality_exit(report)


def _fmt(v, spec=".3f"):
    return "n/a" if v is None else format(v, spec)


def _cmd_evaluate(a, progress) -> int:
    from ..pipeline import evaluate
    from ..report import to_json

    result = evaluate(a.prediction, a.reference, a.image, a.rv_insertion)
    if a.json:
        sys.stdout.write(to_json(result))
        return 0
    print(f"{'structure':<11} {'Dice':>6} {'HD mm':>7} {'HD95 mm':>8} {'ASSD mm':>8} {'AVD mL':>7}")
    for name, m in result.items():
        if name in ("warnings", "aha_segments", "lv_frame"):
            continue
        print(f"{name:<11} {_fmt(m['dice']):>6} {_fmt(m['hd_mm'], '.2f'):>7} {_fmt(m['hd95_mm'], '.2f'):>8} "
              f"{_fmt(m['assd_mm'], '.2f'):>8} {_fmt(m['avd_ml'], '.2f'):>7}")
    segs = [r for r in result.get("aha_segments", []) if abs(r["scar_percent_difference"]) >= 1.0]
    if segs:
        print("AHA segments differing by >= 1 % infarct (prediction - reference): " + ", ".join(
            f"{r['segment']} {r['scar_percent_difference']:+.1f}%" for r in segs))
    for w in result["warnings"]:
        print(f"warning: {w}")
    return 0


def _cmd_methods(a, progress) -> int:
    from ..methods import registry

    defaults = {t: registry.default_method(t) for t in ("myocardium", "scar")}
    items = registry.methods()
    if a.json:
        print(json.dumps([m.to_json(default=(defaults.get(m.target) == m.name)) for m in items], indent=2))
        return 0
    if a.markdown:
        from ..methods.table import markdown

        print(markdown())
        return 0
    for target in ("myocardium", "scar"):
        chosen = [m for m in items if m.target == target]
        print(f"{target} methods (default: {defaults.get(target) or 'none installed'}):")
        for m in chosen:
            print(f"  {m.name:<16} {m.summary}")
            for p in m.params:
                rng = f" [{p.min:g}..{p.max:g}]" if p.min is not None and p.max is not None else ""
                ch = f" {{{', '.join(p.choices)}}}" if p.choices else ""
                print(f"      {p.name}={p.default}{rng}{ch}  {p.help}")
        if not chosen:
            print("  (none yet)")
    return 0


def _cmd_phantom(a, progress) -> int:
    from ..phantom.cases import PROTOCOLS, write_cases

    if a.cases < 1:
        raise InputError(f"--cases {a.cases}: must be at least 1")
    if a.protocol != "mixed" and a.protocol not in PROTOCOLS:
        raise InputError(f"--protocol {a.protocol}: choose mixed or one of {', '.join(PROTOCOLS)}")
    manifest = write_cases(a.out_dir, a.cases, a.seed, protocol=a.protocol, progress=progress)
    progress.done(f"{len(manifest['cases'])} phantom case(s) written")
    for c in manifest["cases"]:
        print(f"{c['image']}  {c['protocol']:<10} scar {c['truth']['scar_ml']:.1f} mL "
              f"({c['truth']['scar_percent']:.1f} %)  CNR {c['cnr']:.1f}")
    print(f"manifest: {os.path.join(a.out_dir, 'phantom.json')}")
    return 0


def _cmd_models(a, progress) -> int:
    from ..models import list_models, models_dir

    items = list_models()
    if a.json:
        print(json.dumps(items, indent=2))
        return 0
    print(f"model directory: {models_dir()}")
    for m in items:
        default = f"  default in --models {'/'.join(m['default_in'])}" if m["default_in"] else ""
        print(f"  {m['name']:<27} {'ok' if m['verified'] else 'SHA-256 MISMATCH'}  {m['license']:<16}{default}")
    if not items:
        print("  (no models installed yet: deep-learning methods are not available in this version)")
    return 0


def _cmd_benchmark(a, progress) -> int:
    from .. import benchmark

    table, paths = benchmark.command(a.data_dir, a.methods, a.output_dir, myocardium=a.myocardium, params=a.param,
                                     models=a.models, myocardium_method=a.myocardium_method, split=a.split,
                                     device=a.device, progress=progress)
    progress.done("benchmark finished")
    print(table)
    print(f"tables: {paths[0]} and .csv")
    return 0


def _cmd_train_classifier(a, progress) -> int:
    from pathlib import Path

    from .. import training

    manifest = training.train_command(a.data_dir, a.output, a.method, a.samples_per_class, a.seed,
                                      not a.no_observer, a.license, progress)
    progress.done("model written")
    print(f"model: {Path(a.output).resolve()}  sha256 {manifest['sha256']}  ({manifest['size_bytes'] / 1e6:.2f} MB)")
    print(f"use it: lvscarseg segment IMAGE --myocardium MASK -o OUT --scar-method {a.method} --param model={a.output}")
    return 0


def _cmd_train(a, progress) -> int:
    from pathlib import Path

    from ..deep.config import TrainConfig
    from ..files import check_output_path

    cfg = TrainConfig(task=a.task, output=a.output, phantoms=a.phantoms, phantom_seed=a.phantom_seed,
                      protocols=tuple(p for p in a.protocols.split(",") if p), data=tuple(a.data),
                      val_cases=a.val_cases, steps=a.steps, batch=a.batch, lr=a.lr, weight_decay=a.weight_decay,
                      val_every=a.val_every, patience=a.patience, checkpoint_dir=a.checkpoint_dir,
                      checkpoint_every=a.checkpoint_every, resume=a.resume, device=a.device, seed=a.seed,
                      workers=a.workers, time_limit_s=a.time_limit, cache=a.cache, license=a.license,
                      init=a.init, synth_appearance=a.synth_appearance,
                      bright_infarct=a.bright_infarct, infarct_weight=a.infarct_weight,
                      border_blood_weight=a.border_blood_weight, model_walls=a.model_walls)
    cfg.check()
    check_output_path(a.output, list(a.data) + ([a.init] if a.init else []))
    from ..methods.deep_methods import _require_torch

    _require_torch(a.task)
    from ..deep.train import train

    manifest = train(cfg, progress)
    if manifest:
        progress.done("model written")
        score = manifest["training"]["validation_dice"]
        print(f"model: {Path(a.output).resolve()}  sha256 {manifest['sha256']}  ({manifest['size_bytes'] / 1e6:.2f} MB)"
              + (f"  validation Dice {score:.3f}" if score >= 0 else ""))
    return 0


def _cmd_compare(a, progress) -> int:
    from .. import compare

    names = [m.strip() for m in a.methods.split(",") if m.strip()]
    result = compare.run(a.image, a.myocardium, names, a.output, a.agreement, a.report, a.device,
                         not a.no_sensitivity, progress, models=a.models)
    progress.done("comparison finished")
    print(compare.summary_text(result))
    for label, path in (("consensus", a.output), ("agreement map", a.agreement), ("report", a.report)):
        if path:
            print(f"{label}: {os.path.abspath(path)}")
    return 0


def _cmd_batch(a, progress) -> int:
    from ..batch import run_batch, summarize
    from ..methods import registry

    if a.summarize:
        if a.input_dir or a.output_dir:
            raise InputError("--summarize OUT_DIR stands alone: no INPUT_DIR or -o")
        merged = summarize(a.summarize)
        print(f"{merged['cases']} cases, {len(merged['failed'])} not done; summary: {merged['summary']}")
        return 1 if merged["failed"] else 0
    if not (a.input_dir and a.output_dir):
        raise InputError("batch needs INPUT_DIR and -o OUT_DIR (or --summarize OUT_DIR)")

    if a.jobs < 1:
        raise InputError(f"--jobs {a.jobs}: at least 1")
    # check the method names and parameters once, before any case runs
    selected = [registry.get(a.scar_method or registry.default_method("scar"), "scar")]
    if not a.myocardium_dir:
        selected.append(registry.get(a.myocardium_method or registry.default_method("myocardium"), "myocardium"))
    registry.use_model_set(selected, registry.resolve_params(selected, a.param), a.models)
    options = dict(device=a.device, models=a.models, params=a.param, scar_method=a.scar_method,
                   myocardium_method=a.myocardium_method)
    if a.dicom_sr and not a.dicom_seg:
        raise InputError("--dicom-sr refers to the DICOM SEG it measured: give --dicom-seg too")
    extras = [x for x, on in (("dicom_seg", a.dicom_seg), ("dicom_sr", a.dicom_sr), ("html", a.html)) if on]
    result = run_batch(a.input_dir, a.output_dir, a.myocardium_dir, a.jobs, options, progress, a.auto_missing,
                       a.num_parts, a.part_id, extras)
    progress.done("batch finished")
    print(f"{result['cases']} cases: {result['processed']} processed, {result['skipped']} already finished (skipped), "
          f"{len(result['failed'])} failed; {result['seconds']:.1f} s")
    for name in result["failed"]:
        print(f"failed: {name} (see {name}.error.txt)")
    if result["without_mask"]:
        print(f"no mask in --myocardium-dir for: {', '.join(result['without_mask'])} (segmented automatically)")
    print(f"summary: {result['summary']}")
    return 1 if result["failed"] else 0


def _cmd_series(a, progress) -> int:
    from .. import dicomio

    series = dicomio.list_series(a.folder)
    if a.json:
        proposed = dicomio.propose_lge(series)
        print(json.dumps([{"number": s.number, "description": s.description, "uid": s.uid, "modality": s.modality,
                           "images": s.frames, "psir": s.psir, "inversion_time_ms": s.inversion_time_ms,
                           "proposed": s is proposed} for s in series], indent=2))
    else:
        print(dicomio.describe(series) if series else f"{a.folder}: no DICOM series")
    return 0 if series else 2


def _cmd_demo(a, progress) -> int:
    from ..demo import run_demo

    return run_demo(a.out_dir, progress)


COMMANDS = {"segment": _cmd_segment, "measure": _cmd_measure, "evaluate": _cmd_evaluate,
             "methods": _cmd_methods, "phantom": _cmd_phantom, "benchmark": _cmd_benchmark,
             "train-classifier": _cmd_train_classifier, "train": _cmd_train, "batch": _cmd_batch,
             "compare": _cmd_compare, "models": _cmd_models, "demo": _cmd_demo,
             "series": _cmd_series}
