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
            "verified": None, "license": info.get("license"), "trained_on": info.get("trained_on"),
            "model_card": str(manifest.parent / info["model_card"]) if info.get("model_card") else None,
        }
        if verify:
            entry["verified"] = path.is_file() and sha256_of(path) == info.get("sha256")
        out.append(entry)
    return out
