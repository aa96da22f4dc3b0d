"""The model directory: listing model files and checking them against their recorded SHA-256.

Layout: ``<models dir>/<name>.json`` manifests, each naming a ``.safetensors`` file beside it:
``{"name", "file", "sha256", "license", "trained_on", "model_card", ...}``.
The shipped directory is ``Resources/Models``; ``LVSCARSEG_MODELS_DIR`` points elsewhere.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, List

from .errors import InputError
from .files import sha256_of

ENV_VAR = "LVSCARSEG_MODELS_DIR"

# Model sets (``--models``): which model a task uses when none is named.
# - "best": the model that measures best on real scans, whatever its license. Measured on the 32
#   held-out EMIDEC exams (the only real data this project may use): fully automatic LV wall Dice
#   0.71 with the -emidec localizer + myocardium networks against 0.10 with the permissive set;
#   infarct Dice with the expert's wall 0.74 (scar-cmpunet-emidec) against 0.38 (phantom-trained). Their
#   license is CC BY-NC-SA 4.0 (EMIDEC's): non-commercial use, and every output says so.
# - "permissive": BSD-licensed models only (trained on this project's phantoms), for users who
#   cannot accept a non-commercial license. A model file named explicitly must also be permissive.
MODEL_SETS = ("best", "permissive")
DEFAULT_MODEL_SET = "best"
PERMISSIVE_LICENSES = ("BSD-3-Clause", "BSD-2-Clause", "MIT", "Apache-2.0")
BEST_ON_REAL_SCANS = {"lv-localizer": "lv-localizer-emidec", "myocardium-cmpunet": "myocardium-cmpunet-emidec",
                      "scar-cmpunet": "scar-cmpunet-emidec"}
# The permissive set's choice where a BSD model other than the task's first one measures better on
# real scans: myocardium-cmpunet-synth (trained with randomized appearance, phantoms only) reaches
# EMIDEC held-out LV wall Dice 0.58 with the LV centre given, against 0.53 for myocardium-cmpunet.
PERMISSIVE_BEST_ON_REAL_SCANS = {"myocardium-cmpunet": "myocardium-cmpunet-synth"}


def models_dir() -> Path:
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "Resources" / "Models"


def verified_manifest(path) -> Dict[str, object]:
    """The manifest (``NAME.json`` beside ``path``) of a model file, after checking the file's
    SHA-256 against it. Raises InputError for a missing, unlisted or changed file: a model is
    never loaded unless it is exactly the file that was recorded."""
    p = Path(path)
    manifest = p.with_suffix(".json")
    if not p.is_file():
        raise InputError(f"{p}: model file not found")
    if not manifest.is_file():
        raise InputError(f"{p}: no manifest {manifest.name} with the file's SHA-256 beside it; refusing to load")
    try:
        info = json.loads(manifest.read_text(encoding="utf-8"))
    except ValueError:
        raise InputError(f"{manifest}: unreadable model manifest") from None
    if not isinstance(info, dict) or sha256_of(p) != info.get("sha256"):
        raise InputError(f"{p}: SHA-256 does not match its manifest; the model file is corrupt or was changed")
    return info


def model_path(name: str) -> Path:
    """``<models dir>/<name>.safetensors`` (a shipped or LVSCARSEG_MODELS_DIR model)."""
    return models_dir() / f"{name}.safetensors"


def check_model_set(model_set: str) -> str:
    if model_set not in MODEL_SETS:
        raise InputError(f"--models {model_set}: expected one of {', '.join(MODEL_SETS)}")
    return model_set


def default_model_path(task: str, model_set: str = DEFAULT_MODEL_SET) -> Path:
    """The model file a task uses when none is named: the set's best model on real scans for the
    task when that file is present (a models folder may hold only some), else the task's own
    ``<task>.safetensors``."""
    check_model_set(model_set)
    best = (BEST_ON_REAL_SCANS if model_set == "best" else PERMISSIVE_BEST_ON_REAL_SCANS).get(task)
    if best and model_path(best).is_file():
        return model_path(best)
    return model_path(task)


def is_permissive(license_id) -> bool:
    return str(license_id) in PERMISSIVE_LICENSES


def license_note(license_id) -> str:
    """The license as a reader of the result needs it: CC BY-NC-SA gets its consequence spelled out."""
    text = str(license_id or "unknown license")
    if "NC" in text:
        return f"{text} (non-commercial use only; trained on EMIDEC)"
    return text


def check_license(path, model_set: str) -> Dict[str, object]:
    """The verified manifest of ``path``; InputError when the model set is "permissive" and the
    model's license is not."""
    info = verified_manifest(path)
    if check_model_set(model_set) == "permissive" and not is_permissive(info.get("license")):
        raise InputError(f"{path}: licensed {info.get('license')}, not permissive; --models permissive allows only "
                         f"{', '.join(PERMISSIVE_LICENSES)} models")
    return info


def list_models(verify: bool = True) -> List[Dict[str, object]]:
    folder = models_dir()
    if os.environ.get(ENV_VAR) and not folder.is_dir():
        raise InputError(f"{folder}: {ENV_VAR} does not name a folder")
    out = []
    for manifest in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            info = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{manifest}: unreadable model manifest ({exc})") from None
        path = manifest.parent / str(info.get("file", ""))
        entry = {
            "name": info.get("name", manifest.stem), "path": str(path), "sha256": info.get("sha256"),
            "verified": None, "license": info.get("license"), "permissive": is_permissive(info.get("license")),
            "default_in": [s for s in MODEL_SETS
                           if default_model_path(str(info.get("task") or manifest.stem), s).name == path.name],
            "trained_on": info.get("trained_on"),
            "model_card": str(manifest.parent / info["model_card"]) if info.get("model_card") else None,
        }
        if verify:
            entry["verified"] = path.is_file() and sha256_of(path) == info.get("sha256")
        out.append(entry)
    return out
