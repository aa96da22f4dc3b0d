"""The ``lvscarseg`` argument parser: every command and option, declared once; choices come from
the registries (model sets) and one device list."""
from __future__ import annotations

import argparse
from typing import List

from .. import __version__


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's default prints the whole usage; keep one clear line
        self.exit(2, f"lvscarseg: error: {message} (see: {self.prog} --help)\n")


DEVICES = ("auto", "cpu", "cuda")  # where the networks run (deep/networks.pick_device)


def _device_option(parser, help: str = "for deep-learning methods") -> None:
    parser.add_argument("--device", choices=DEVICES, default="auto", help=help)


def _measure_options(p) -> None:
    p.add_argument("--html", metavar="REPORT.html", help="a one-page HTML report for the patient file (verdict, "
                   "totals, AHA segments, bull's-eye, contours, methods and model licenses)")
    p.add_argument("--rv-insertion", action="append", default=[], metavar="R,A,S",
                   help="RV insertion point in RAS mm (anterior and/or inferior; repeatable); default: found in the image")
    p.add_argument("--bullseye", metavar="PNG", help="draw the AHA 17-segment bull's-eye (infarct %% and transmurality)")
    p.add_argument("--qa", metavar="PNG", help="draw a montage of slices with the contours over the image")


def _models_option(parser) -> None:
    from ..models import DEFAULT_MODEL_SET, MODEL_SETS

    parser.add_argument("--models", choices=MODEL_SETS, default=DEFAULT_MODEL_SET,
                        help="which models the deep-learning methods use unless a --param names one: best (the "
                             "best on real scans; today CC BY-NC-SA 4.0, non-commercial, trained on EMIDEC) or "
                             "permissive (BSD-3-Clause models only)")


def build_parser() -> argparse.ArgumentParser:
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
    _device_option(s)
    s.add_argument("--lv-center", metavar="R,A,S", help="a point inside the LV cavity (RAS mm, as a Slicer markup "
                   "gives it): automatic myocardium segmentation starts there instead of localizing the LV")
    _models_option(s)
    s.add_argument("--force", action="store_true", help="use a myocardium or remote mask even when it looks like "
                   "another scan's (axes turned against the image's, or partly outside it)")
    _measure_options(s)
    s.add_argument("--uncertainty", metavar="MAP.nrrd", help="also write a float map of where the networks' "
                   "test-time-augmented predictions disagree (0 = agree; for QA); turns test-time augmentation on")
    s.add_argument("--series", metavar="N|DESCRIPTION|UID", help="which series of a DICOM study folder (default: "
                   "the only one, or the one that looks like LGE; see: lvscarseg series FOLDER)")
    s.add_argument("--dicom-seg", metavar="OUT.dcm", help="also write the result as a DICOM Segmentation referencing "
                   "the source series (DICOM input only; needs highdicom)")
    s.add_argument("--dicom-source", metavar="DICOM_DIR", help="the DICOM series IMAGE was exported from (IMAGE "
                   "another format, on that series' grid): the --dicom-seg refers to it")
    s.add_argument("--dicom-sr", metavar="OUT.dcm", help="and the measurements as a DICOM structured report (TID "
                   "1500) referencing that SEG's segments (needs --dicom-seg)")

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

    se = sub.add_parser("series", help="list the DICOM series of a study folder and propose the LGE one")
    se.add_argument("folder", metavar="FOLDER")
    se.add_argument("--json", action="store_true")

    mo = sub.add_parser("models", help="list model files and whether they match their SHA-256")
    mo.add_argument("--json", action="store_true")

    b = sub.add_parser("benchmark", help="run scar methods over labelled cases; Markdown and CSV tables")
    b.add_argument("data_dir", metavar="DATA_DIR", help="phantom layout (images/, labels/) or EMIDEC PNG export")
    b.add_argument("--methods", default="all", help="comma-separated scar methods, all, or classical (every method that needs no PyTorch)")
    b.add_argument("--myocardium", choices=("truth", "observer", "auto"), default="truth",
                   help="the true wall; one whose borders move about a voxel in and out like a human contour; or "
                        "auto: the wall predicted by --myocardium-method (fully automatic)")
    b.add_argument("--myocardium-method", metavar="NAME", help="with --myocardium auto (default: the default model)")
    b.add_argument("--split", choices=("all", "test", "train"), default="all",
                   help="test: only the EMIDEC exams held out from training (other data: all cases)")
    _device_option(b)
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
    _device_option(tr)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--workers", type=int, default=1, help="processes generating phantoms")
    tr.add_argument("--time-limit", type=float, default=0.0, metavar="SECONDS", help="stop (and save) after this long")
    tr.add_argument("--cache", metavar="DIR", help="keep prepared cases here (.npz) for later runs")
    tr.add_argument("--init", metavar="MODEL.safetensors", help="start from this model's weights (fine-tuning, "
                    "e.g. a shipped model on your own labelled cases)")
    tr.add_argument("--synth-appearance", action="store_true", help="myocardium tasks: draw each tissue's "
                    "brightness anew per sample (blood darker or brighter than the wall, other organs re-ordered)")
    tr.add_argument("--bright-infarct", type=float, default=0.0, metavar="FRACTION", help="myocardium tasks: this "
                    "fraction of the samples get their infarct as bright as blood or brighter (DICOM-quality LGE)")
    tr.add_argument("--infarct-weight", type=float, default=1.0, metavar="W", help="myocardium tasks: infarct "
                    "wall voxels count W times in the loss (bright infarct is what the wall network calls blood)")
    from ..deep.config import BORDER_BLOOD_REACH  # no torch: config is checked before PyTorch is imported

    tr.add_argument("--border-blood-weight", type=float, default=1.0, metavar="W", help="myocardium tasks: blood "
                    f"pool within {BORDER_BLOOD_REACH} voxels of the wall counts W times in the loss (holds the wall back from bright "
                    "blood when --infarct-weight pushes it out)")
    tr.add_argument("--model-walls", type=float, default=0.0, metavar="FRACTION", help="scar tasks: this "
                    "fraction of the samples get the wall the default myocardium model draws on the case (with its "
                    "endocardial ring), as fully automatic runs give it, instead of an observer-like wall")
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
    _device_option(co)
    _models_option(co)

    ba = sub.add_parser("batch", help="segment every volume of a folder: .seg.nrrd, report and QA picture per case, "
                        "summary.csv; a rerun does only unfinished cases")
    ba.add_argument("input_dir", metavar="INPUT_DIR", nargs="?", help="(not with --summarize)")
    ba.add_argument("-o", "--output-dir", metavar="OUT_DIR")
    ba.add_argument("--num-parts", type=int, default=1, metavar="N", help="split the cohort into N parts (one per "
                    "machine or job-array task) ...")
    ba.add_argument("--part-id", type=int, default=0, metavar="K", help="... and process part K (0 to N-1): cases K, "
                    "K+N, K+2N, ... of the sorted list; writes summary.partK-of-N.csv")
    ba.add_argument("--summarize", metavar="OUT_DIR", help="only write OUT_DIR/summary.csv of every case the parts "
                    "finished there")
    ba.add_argument("--dicom-seg", action="store_true", help="also NAME_seg.dcm per DICOM case (DICOM SEG)")
    ba.add_argument("--dicom-sr", action="store_true", help="also NAME_sr.dcm per DICOM case (TID 1500 SR; with --dicom-seg)")
    ba.add_argument("--html", action="store_true", help="also NAME.html per case (the one-page report)")
    ba.add_argument("--myocardium-dir", metavar="DIR", help="myocardium masks named like the images (or with _myo, "
                    "_myocardium, _seg, _label); every image needs one unless --auto-missing")
    ba.add_argument("--auto-missing", action="store_true", help="with --myocardium-dir: segment the cases without a "
                    "mask automatically instead of stopping before the first case")
    ba.add_argument("--jobs", type=int, default=1, metavar="N", help="cases processed in parallel")
    ba.add_argument("--myocardium-method", metavar="NAME")
    ba.add_argument("--scar-method", metavar="NAME")
    ba.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    _device_option(ba)
    _models_option(ba)

    d = sub.add_parser("demo", help="make a phantom case, segment it and print the measurements")
    d.add_argument("out_dir", nargs="?", default="lvscarseg-demo", metavar="OUT_DIR")
    return p


_POINT_OPTIONS = ("--seed", "--rv-insertion")


def join_point_values(argv: List[str]) -> List[str]:
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
