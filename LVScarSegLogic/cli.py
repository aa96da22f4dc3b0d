"""The ``lvscarseg`` command line (contract: ../shared/CONTRACT.md).

Exit codes: 0 success; 2 bad input or usage (one line on stderr naming the file and the
problem, no output written); 1 unexpected internal error.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional

from . import __version__
from .errors import InputError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's default prints the whole usage; keep one clear line
        self.exit(2, f"lvscarseg: error: {message} (see: {self.prog} --help)\n")


def _measure_options(p) -> None:
    p.add_argument("--rv-insertion", action="append", default=[], metavar="R,A,S",
                   help="RV insertion point in RAS mm (anterior and/or inferior; repeatable); default: found in the image")
    p.add_argument("--bullseye", metavar="PNG", help="draw the AHA 17-segment bull's-eye (infarct %% and transmurality)")
    p.add_argument("--qa", metavar="PNG", help="draw a montage of slices with the contours over the image")


def _models_option(parser) -> None:
    from .models import DEFAULT_MODEL_SET, MODEL_SETS

    parser.add_argument("--models", choices=MODEL_SETS, default=DEFAULT_MODEL_SET,
                        help="which models the deep-learning methods use unless a --param names one: best (the "
                             "best on real scans; today CC BY-NC-SA 4.0, non-commercial, trained on EMIDEC) or "
                             "permissive (BSD-3-Clause models only)")


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="lvscarseg", description="LV myocardium and scar segmentation for LGE cardiac MRI.")
    p.add_argument("--version", action="version", version=f"LVScarSeg {__version__}")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    s = sub.add_parser("segment", help="segment myocardium and scar; write a .seg.nrrd or labelmap")
    s.add_argument("image", metavar="IMAGE", help="3D LGE volume: .nrrd .nhdr .nii .nii.gz .mha .mhd or a DICOM folder")
    s.add_argument("-o", "--output", required=True, metavar="OUT", help="output .seg.nrrd (or .nrrd/.nii/.nii.gz/.mha labelmap)")
    s.add_argument("--myocardium", metavar="MASK", help="LV myocardium: binary or coded labelmap, or .seg.nrrd")
    s.add_argument("--myocardium-method", metavar="NAME", help="myocardium model to run when no mask is given")
    s.add_argument("--scar-method", metavar="NAME", help="scar method (lvscarseg methods); default: the best one")
    s.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="method parameter (repeatable)")
    s.add_argument("--seed", action="append", default=[], metavar="R,A,S", help="seed point in RAS mm (repeatable)")
    s.add_argument("--remote", metavar="MASK", help="remote (healthy) myocardium mask for n-SD")
    s.add_argument("--report", metavar="REPORT.json", help="write the report JSON here")
    s.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="for deep-learning methods")
    s.add_argument("--lv-center", metavar="R,A,S", help="a point inside the LV cavity (RAS mm, as a Slicer markup "
                   "gives it): automatic myocardium segmentation starts there instead of localizing the LV")
    _models_option(s)
    s.add_argument("--force", action="store_true", help="use a myocardium or remote mask even when it looks like "
                   "another scan's (axes turned against the image's, or partly outside it)")
    _measure_options(s)
    s.add_argument("--uncertainty", metavar="MAP.nrrd", help="also write a float map of where the networks' "
                   "test-time-augmented predictions disagree (0 = agree; for QA); turns test-time augmentation on")

    m = sub.add_parser("measure", help="measure an existing (e.g. edited) segmentation")
    m.add_argument("image", metavar="IMAGE")
    m.add_argument("segmentation", metavar="SEGMENTATION")
    m.add_argument("--report", metavar="REPORT.json", help="write the report here (default: print it)")
    _measure_options(m)

    e = sub.add_parser("evaluate", help="compare a segmentation with a reference (Dice, HD, HD95, ASSD, AVD)")
    e.add_argument("prediction", metavar="PREDICTION")
    e.add_argument("reference", metavar="REFERENCE")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.add_argument("--image", metavar="IMAGE", help="the image (reference grid): finds the septum for the AHA frame")
    e.add_argument("--rv-insertion", action="append", default=[], metavar="R,A,S", help="RV insertion point (RAS mm)")

    me = sub.add_parser("methods", help="list the methods and their parameters")
    me.add_argument("--json", action="store_true")
    me.add_argument("--markdown", action="store_true", help="the README's method tables")

    ph = sub.add_parser("phantom", help="write synthetic LGE phantom cases with ground truth")
    ph.add_argument("out_dir", metavar="OUT_DIR")
    ph.add_argument("--cases", type=int, default=4, metavar="N")
    ph.add_argument("--seed", type=int, default=0, metavar="S")
    ph.add_argument("--protocol", default="mixed", help="mixed, or one of: 3d-highres, 3d-iso, 2d-stack, large-fov")

    mo = sub.add_parser("models", help="list model files and whether they match their SHA-256")
    mo.add_argument("--json", action="store_true")

    b = sub.add_parser("benchmark", help="run scar methods over labelled cases; Markdown and CSV tables")
    b.add_argument("data_dir", metavar="DATA_DIR", help="phantom layout (images/, labels/) or EMIDEC PNG export")
    b.add_argument("--methods", default="all", help="comma-separated scar methods, or all")
    b.add_argument("--myocardium", choices=("truth", "observer", "auto"), default="truth",
                   help="the true wall; one whose borders move about a voxel in and out like a human contour; or "
                        "auto: the wall predicted by --myocardium-method (fully automatic)")
    b.add_argument("--myocardium-method", metavar="NAME", help="with --myocardium auto (default: the default model)")
    b.add_argument("--split", choices=("all", "test"), default="all",
                   help="test: only the EMIDEC exams held out from training (other data: all cases)")
    b.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    _models_option(b)
    b.add_argument("-o", "--output-dir", default=".", metavar="DIR", help="where benchmark_<myocardium>.md/.csv go")
    b.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="parameter for every chosen method that has it, or METHOD.KEY=VALUE (repeatable)")

    t = sub.add_parser("train-classifier", help="train a voxel classifier (svm, knn, random-forest, mlp) "
                       "from labelled cases")
    t.add_argument("data_dir", metavar="DATA_DIR", help="images/ + labels/ (EMIDEC codes) or an EMIDEC PNG export")
    t.add_argument("-o", "--output", required=True, metavar="MODEL.safetensors")
    t.add_argument("--method", required=True, choices=("svm", "knn", "random-forest", "mlp"))
    t.add_argument("--samples-per-class", type=int, default=1500, metavar="N", help="voxels per class and case")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--no-observer", action="store_true",
                   help="train on the true walls only (default: also on observer-like perturbed walls)")
    t.add_argument("--license", default="same as the training data", help="recorded in the model card")

    tr = sub.add_parser("train", help="train a deep-learning model (localizer, myocardium or scar network); "
                        "also under torchrun for distributed data parallel")
    tr.add_argument("--task", required=True, metavar="TASK", help="lv-localizer, myocardium-unet, myocardium-cmpunet, "
                    "myocardium-gan, scar-cnn, scar-unet, scar-cmpunet or scar-gan")
    tr.add_argument("-o", "--output", required=True, metavar="MODEL.safetensors",
                    help="the model file; its .json manifest and .md model card are written beside it")
    tr.add_argument("--phantoms", type=int, default=0, metavar="N", help="generate N phantom cases to train on")
    tr.add_argument("--phantom-seed", type=int, default=1000, metavar="S")
    tr.add_argument("--protocols", default="3d-highres,3d-iso,2d-stack,large-fov",
                    help="phantom protocols, cycled (comma-separated)")
    tr.add_argument("--data", action="append", default=[], metavar="DIR",
                    help="labelled cases: phantom layout or EMIDEC PNG export (held-out EMIDEC exams are skipped)")
    tr.add_argument("--val-cases", type=int, default=2, metavar="N", help="validation phantoms (seed + 1)")
    tr.add_argument("--steps", type=int, default=2000)
    tr.add_argument("--batch", type=int, default=16, help="samples per step, over all processes")
    tr.add_argument("--lr", type=float, default=2e-3)
    tr.add_argument("--weight-decay", type=float, default=1e-4)
    tr.add_argument("--val-every", type=int, default=200, metavar="STEPS")
    tr.add_argument("--patience", type=int, default=6, metavar="N", help="early stop after N validations without gain")
    tr.add_argument("--checkpoint-dir", metavar="DIR", help="save checkpoints here (safetensors + JSON)")
    tr.add_argument("--checkpoint-every", type=int, default=200, metavar="STEPS")
    tr.add_argument("--resume", action="store_true", help="continue from the checkpoint in --checkpoint-dir")
    tr.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--workers", type=int, default=1, help="processes generating phantoms")
    tr.add_argument("--time-limit", type=float, default=0.0, metavar="SECONDS", help="stop (and save) after this long")
    tr.add_argument("--cache", metavar="DIR", help="keep prepared cases here (.npz) for later runs")
    tr.add_argument("--init", metavar="MODEL.safetensors", help="start from this model's weights (fine-tuning, "
                    "e.g. a shipped model on your own labelled cases)")
    tr.add_argument("--synth-appearance", action="store_true", help="myocardium tasks: draw each tissue's "
                    "brightness anew per sample (blood darker or brighter than the wall, other organs re-ordered)")
    tr.add_argument("--license", default="BSD-3-Clause", help="recorded in the model card (EMIDEC data forces "
                    "CC-BY-NC-SA-4.0)")

    co = sub.add_parser("compare", help="run several scar methods in one myocardium: per-method scar %%, STAPLE "
                        "consensus, agreement, threshold sensitivity")
    co.add_argument("image", metavar="IMAGE")
    co.add_argument("--myocardium", required=True, metavar="MASK")
    co.add_argument("--methods", default="strm,fwhm,gmm,random-forest,cmpunet", help="comma-separated scar methods")
    co.add_argument("-o", "--output", metavar="OUT.seg.nrrd", help="the consensus segmentation")
    co.add_argument("--agreement", metavar="MAP.nrrd", help="labelmap: how many methods call each voxel scar")
    co.add_argument("--report", metavar="REPORT.json")
    co.add_argument("--no-sensitivity", action="store_true", help="skip the n-SD / FWHM threshold band")
    co.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    _models_option(co)

    ba = sub.add_parser("batch", help="segment every volume of a folder: .seg.nrrd, report and QA picture per case, "
                        "summary.csv; a rerun does only unfinished cases")
    ba.add_argument("input_dir", metavar="INPUT_DIR")
    ba.add_argument("-o", "--output-dir", required=True, metavar="OUT_DIR")
    ba.add_argument("--myocardium-dir", metavar="DIR", help="myocardium masks named like the images (or with _myo, "
                    "_myocardium, _seg, _label); every image needs one unless --auto-missing")
    ba.add_argument("--auto-missing", action="store_true", help="with --myocardium-dir: segment the cases without a "
                    "mask automatically instead of stopping before the first case")
    ba.add_argument("--jobs", type=int, default=1, metavar="N", help="cases processed in parallel")
    ba.add_argument("--myocardium-method", metavar="NAME")
    ba.add_argument("--scar-method", metavar="NAME")
    ba.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    ba.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    _models_option(ba)

    d = sub.add_parser("demo", help="make a phantom case, segment it and print the measurements")
    d.add_argument("out_dir", nargs="?", default="lvscarseg-demo", metavar="OUT_DIR")
    return p


def _cmd_segment(a, progress) -> int:
    from .pipeline import segment
    from .report import summary_text

    report = segment(a.image, a.output, myocardium=a.myocardium, myocardium_method=a.myocardium_method,
                     scar_method=a.scar_method, params=a.param, seeds_ras=a.seed, remote=a.remote,
                     report_path=a.report, device=a.device, progress=progress, uncertainty_path=a.uncertainty,
                     rv_insertion=a.rv_insertion, bullseye_path=a.bullseye, qa_path=a.qa, lv_center=a.lv_center,
                     models=a.models, force=a.force)
    progress.done("segmentation written")
    print(summary_text(report))
    print(f"segmentation: {report['output']}")
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
    from .pipeline import measure
    from .report import summary_text, to_json

    report = measure(a.image, a.segmentation, a.report, rv_insertion=a.rv_insertion, bullseye_path=a.bullseye,
                     qa_path=a.qa)
    if a.report:
        print(summary_text(report))
        print(f"report: {os.path.abspath(a.report)}")
    else:
        sys.stdout.write(to_json(report))
    return _quality_exit(report)


def _fmt(v, spec=".3f"):
    return "n/a" if v is None else format(v, spec)


def _cmd_evaluate(a, progress) -> int:
    from .pipeline import evaluate
    from .report import to_json

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
    from .methods import registry

    defaults = {t: registry.default_method(t) for t in ("myocardium", "scar")}
    items = registry.methods()
    if a.json:
        print(json.dumps([m.to_json(default=(defaults.get(m.target) == m.name)) for m in items], indent=2))
        return 0
    if a.markdown:
        from .methods.table import markdown

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
    from .phantom.cases import PROTOCOLS, write_cases

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
    from .models import list_models, models_dir

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
    from pathlib import Path

    from . import benchmark
    from .files import write_text_atomic
    from .methods import registry

    names = [m.name for m in registry.methods("scar")] if a.methods == "all" else \
        [m.strip() for m in a.methods.split(",") if m.strip()]
    chosen = [registry.get(name, "scar") for name in names]  # unknown names fail before any work
    pairs = {m.name: [] for m in chosen}
    myo_pairs = []
    myo_param_names = {p.name for m in registry.methods("myocardium") for p in m.params}
    for pair in a.param:
        key = pair.split("=", 1)[0]
        if key in myo_param_names:  # for the myocardium model of --myocardium auto
            myo_pairs.append(pair)
            continue
        owners = [m for m in chosen if key.startswith(m.name + ".") or any(p.name == key for p in m.params)]
        if not owners:
            raise InputError(f"--param {pair}: no chosen method has this parameter")
        for m in owners:
            pairs[m.name].append(pair[len(m.name) + 1:] if key.startswith(m.name + ".") else pair)
    values = {m.name: registry.resolve_params([m], pairs[m.name])[m.name] for m in chosen}
    registry.use_model_set(chosen, values, a.models)
    out = Path(a.output_dir)
    if not out.is_dir():
        raise InputError(f"{out}: output folder does not exist")
    label, myo_values = a.myocardium, {}
    if a.myocardium == "auto":
        myo = registry.get(a.myocardium_method or registry.default_method("myocardium"), "myocardium")
        label = f"auto-{myo.name}"
        myo_values = registry.resolve_params([myo], myo_pairs)[myo.key]
        registry.use_model_set([myo], {myo.key: myo_values}, a.models)
    elif a.myocardium_method or myo_pairs:
        raise InputError("--myocardium-method and myocardium-model parameters need --myocardium auto")
    rows = benchmark.run(a.data_dir, names, a.myocardium, progress=progress, params=values,
                         myocardium_method=a.myocardium_method, split=a.split, device=a.device,
                         myocardium_params=myo_values)
    progress.done("benchmark finished")
    table = benchmark.summary_markdown(rows)
    label += "" if a.models == "best" else f"-{a.models}"  # tables of the two model sets side by side
    write_text_atomic(out / f"benchmark_{label}.md", table)
    write_text_atomic(out / f"benchmark_{label}.csv", benchmark.rows_csv(rows))
    print(table)
    print(f"tables: {out / f'benchmark_{label}.md'} and .csv")
    return 0


def _cmd_train_classifier(a, progress) -> int:
    from pathlib import Path

    from . import training
    from .files import check_output_path

    if not a.output.endswith(".safetensors"):
        raise InputError(f"{a.output}: the model file must end in .safetensors")
    check_output_path(a.output, [a.data_dir])
    if a.samples_per_class < 10:
        raise InputError(f"--samples-per-class {a.samples_per_class}: at least 10")
    x, y, names = training.collect(a.data_dir, a.samples_per_class, a.seed, not a.no_observer, progress)
    progress(0.6, f"fitting {a.method} on {len(y)} voxels")
    tensors = training.fit(a.method, x, y, a.seed)
    trained_on = f"{len(names)} cases from {Path(a.data_dir).resolve().name}"
    phantom = Path(a.data_dir) / "phantom.json"
    if phantom.exists():
        import json as _json

        trained_on = (f"{len(names)} synthetic LGE phantom cases (lvscarseg phantom --seed "
                      f"{_json.loads(phantom.read_text())['seed']}), true and observer-perturbed walls")
    manifest = training.save(a.output, a.method, tensors, trained_on, a.license, len(y))
    progress.done("model written")
    print(f"model: {Path(a.output).resolve()}  sha256 {manifest['sha256']}  ({manifest['size_bytes'] / 1e6:.2f} MB)")
    print(f"use it: lvscarseg segment IMAGE --myocardium MASK -o OUT --scar-method {a.method} --param model={a.output}")
    return 0


def _cmd_train(a, progress) -> int:
    from pathlib import Path

    from .files import check_output_path

    if not a.output.endswith(".safetensors"):
        raise InputError(f"{a.output}: the model file must end in .safetensors")
    check_output_path(a.output, list(a.data) + ([a.init] if a.init else []))
    for name, value, low in (("--steps", a.steps, 1), ("--batch", a.batch, 1), ("--val-every", a.val_every, 1),
                             ("--checkpoint-every", a.checkpoint_every, 1), ("--phantoms", a.phantoms, 0),
                             ("--workers", a.workers, 1), ("--val-cases", a.val_cases, 0)):
        if value < low:
            raise InputError(f"{name} {value}: must be at least {low}")
    if not a.lr > 0:
        raise InputError(f"--lr {a.lr}: must be positive")
    from .deep.tasks import TASKS

    if a.task not in TASKS:
        raise InputError(f"--task {a.task}: unknown (choose one of {', '.join(TASKS)})")
    from .methods.deep_methods import _require_torch

    _require_torch(a.task)
    from .deep.train import TrainConfig, train

    cfg = TrainConfig(task=a.task, output=a.output, phantoms=a.phantoms, phantom_seed=a.phantom_seed,
                      protocols=tuple(p for p in a.protocols.split(",") if p), data=tuple(a.data),
                      val_cases=a.val_cases, steps=a.steps, batch=a.batch, lr=a.lr, weight_decay=a.weight_decay,
                      val_every=a.val_every, patience=a.patience, checkpoint_dir=a.checkpoint_dir,
                      checkpoint_every=a.checkpoint_every, resume=a.resume, device=a.device, seed=a.seed,
                      workers=a.workers, time_limit_s=a.time_limit, cache=a.cache, license=a.license,
                      init=a.init, synth_appearance=a.synth_appearance)
    from .phantom.cases import PROTOCOLS

    bad = [p for p in cfg.protocols if p not in PROTOCOLS]
    if bad:
        raise InputError(f"--protocols: unknown {', '.join(bad)} (choose from {', '.join(PROTOCOLS)})")
    manifest = train(cfg, progress)
    if manifest:
        progress.done("model written")
        score = manifest["training"]["validation_dice"]
        print(f"model: {Path(a.output).resolve()}  sha256 {manifest['sha256']}  ({manifest['size_bytes'] / 1e6:.2f} MB)"
              + (f"  validation Dice {score:.3f}" if score >= 0 else ""))
    return 0


def _cmd_compare(a, progress) -> int:
    from . import compare

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
    from .batch import run_batch
    from .methods import registry

    if a.jobs < 1:
        raise InputError(f"--jobs {a.jobs}: at least 1")
    # check the method names and parameters once, before any case runs
    selected = [registry.get(a.scar_method or registry.default_method("scar"), "scar")]
    if not a.myocardium_dir:
        selected.append(registry.get(a.myocardium_method or registry.default_method("myocardium"), "myocardium"))
    registry.use_model_set(selected, registry.resolve_params(selected, a.param), a.models)
    args = ["--device", a.device, "--models", a.models] + sum((["--param", p] for p in a.param), [])
    if a.scar_method:
        args += ["--scar-method", a.scar_method]
    if a.myocardium_method:
        args += ["--myocardium-method", a.myocardium_method]
    result = run_batch(a.input_dir, a.output_dir, a.myocardium_dir, a.jobs, args, progress, a.auto_missing)
    progress.done("batch finished")
    print(f"{result['cases']} cases: {result['processed']} processed, {result['skipped']} already finished (skipped), "
          f"{len(result['failed'])} failed; {result['seconds']:.1f} s")
    for name in result["failed"]:
        print(f"failed: {name} (see {name}.error.txt)")
    if result["without_mask"]:
        print(f"no mask in --myocardium-dir for: {', '.join(result['without_mask'])} (segmented automatically)")
    print(f"summary: {result['summary']}")
    return 1 if result["failed"] else 0


def _cmd_demo(a, progress) -> int:
    from .demo import run_demo

    return run_demo(a.out_dir, progress)


_COMMANDS = {"segment": _cmd_segment, "measure": _cmd_measure, "evaluate": _cmd_evaluate,
             "methods": _cmd_methods, "phantom": _cmd_phantom, "benchmark": _cmd_benchmark,
             "train-classifier": _cmd_train_classifier, "train": _cmd_train, "batch": _cmd_batch,
             "compare": _cmd_compare, "models": _cmd_models, "demo": _cmd_demo}


class Terminated(Exception):
    """SIGTERM (e.g. the Slicer module's Cancel): unwind so that temporary outputs are removed."""


def _exit_cleanly_on_sigterm() -> None:
    import signal
    import threading

    def handler(signum, frame):
        raise Terminated()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


_POINT_OPTIONS = ("--seed", "--rv-insertion")


def _join_point_values(argv: List[str]) -> List[str]:
    """``--seed -12,30,5`` would read as an unknown option: join coordinates to their option."""
    out: List[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in _POINT_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-") and "," in argv[i + 1]:
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def main(argv: Optional[List[str]] = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(_join_point_values(list(sys.argv[1:] if argv is None else argv)))
    if not args.command:
        parser.print_help()
        return 2
    from .progress import Progress

    progress = Progress(enabled=not args.quiet)
    _exit_cleanly_on_sigterm()
    try:
        return _COMMANDS[args.command](args, progress)
    except InputError as exc:
        sys.stderr.write(f"lvscarseg: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("lvscarseg: interrupted\n")
        return 130
    except Terminated:
        sys.stderr.write("lvscarseg: terminated; no output written\n")
        return 143
    except BrokenPipeError:  # output piped into `head` and closed early: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except MemoryError:
        sys.stderr.write("lvscarseg: error: out of memory\n")
        return 1
    except OSError as exc:  # the disk, not the engine: full, read-only or not ours to write
        import errno

        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
            where = f"{exc.filename}: " if exc.filename else ""
            sys.stderr.write(f"lvscarseg: error: {where}cannot write ({exc.strerror}); no output was written\n")
            return 2
        if os.environ.get("LVSCARSEG_DEBUG"):
            raise
        sys.stderr.write(f"lvscarseg: internal error: {type(exc).__name__}: {exc} "
                         "(set LVSCARSEG_DEBUG=1 for the traceback; please report it)\n")
        return 1
    except Exception as exc:  # an engine bug: say so, and show the traceback on request
        if os.environ.get("LVSCARSEG_DEBUG"):
            raise
        sys.stderr.write(f"lvscarseg: internal error: {type(exc).__name__}: {exc} "
                         "(set LVSCARSEG_DEBUG=1 for the traceback; please report it)\n")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
