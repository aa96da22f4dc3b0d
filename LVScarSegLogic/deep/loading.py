"""Model files into networks: the manifest and SHA-256 checked (models.verified_manifest), the
weights read from safetensors (never unpickled), the network built for its task, cached per file."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional

import torch

from ..errors import InputError
from .networks import build, pick_device
from .tasks import TASKS


def _configure(device: torch.device) -> None:
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


@lru_cache(maxsize=8)
def _load(path: str, sha: str, device: str):
    from safetensors.torch import load_file

    from ..models import verified_manifest

    info = verified_manifest(path)
    task = TASKS.get(str(info.get("task")))
    if task is None:
        raise InputError(f"{path}: the manifest names no known task ({info.get('task')!r})")
    args = info.get("network_args", task.network_args)
    model = build(task.network, task.dims, task.in_channels, len(task.classes), **args)
    try:
        state = load_file(path, device="cpu")
        model.load_state_dict(state)
    except Exception as exc:
        raise InputError(f"{path}: not a valid {task.name} model ({str(exc).splitlines()[0]})") from None
    model.eval().to(device)
    return model, task, info


def load_model(task_name: str, path: Optional[str] = None, device: str = "auto"):
    """(model, task, manifest) for the model file ``path``, or the task's default model (the
    "best" model set; ``registry.use_model_set`` names the file for other sets)."""
    from ..files import sha256_of
    from ..models import ENV_VAR, default_model_path

    p = Path(path) if path else default_model_path(task_name)
    if not p.is_file():
        hint = f"train one with `lvscarseg train --task {task_name}`" + ("" if path else f" or set {ENV_VAR}")
        raise InputError(f"{p}: no {task_name} model file; {hint}")
    dev = pick_device(device)
    _configure(dev)
    model, task, info = _load(str(p.resolve()), sha256_of(p), str(dev))
    if task.name != task_name:
        raise InputError(f"{p}: a {task.name} model cannot be used as {task_name}")
    return model, task, info
