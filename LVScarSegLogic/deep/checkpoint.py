"""Training checkpoints: tensors in safetensors, the rest in JSON (never pickles); a checkpoint
is complete or absent (state.json is written last)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, Optional, Tuple

import torch


def _save_tensors(path: Path, tensors: Dict[str, torch.Tensor], meta: Optional[Dict[str, str]] = None) -> None:
    from safetensors.torch import save_file

    tmp = path.with_name(path.name + ".part")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=meta)
    os.replace(tmp, path)


def _optimizer_tensors(opt: torch.optim.Optimizer) -> Tuple[Dict[str, torch.Tensor], Dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{pid}.{k}"] = v
            else:
                scalars[f"{pid}.{k}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _load_optimizer(opt: torch.optim.Optimizer, tensors: Dict[str, torch.Tensor], extra: Dict) -> None:
    state: Dict[int, Dict[str, object]] = {}
    for key, v in list(tensors.items()) + list(extra["scalars"].items()):
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": extra["param_groups"]})


def _unwrap(model):
    return model.module if hasattr(model, "module") else model


class Checkpoint:
    def __init__(self, folder: Path):
        self.folder = folder

    def exists(self) -> bool:
        return (self.folder / "state.json").is_file()

    def save(self, state: Dict, parts: Dict[str, object]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, obj in parts.items():
            if obj is None:
                continue
            if isinstance(obj, torch.optim.Optimizer):
                tensors, extra = _optimizer_tensors(obj)
                _save_tensors(self.folder / f"{name}.safetensors", tensors)
                state[f"{name}_extra"] = extra
            elif isinstance(obj, dict):
                _save_tensors(self.folder / f"{name}.safetensors", obj)
            else:
                _save_tensors(self.folder / f"{name}.safetensors", _unwrap(obj).state_dict())
        tmp = self.folder / "state.json.part"
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, self.folder / "state.json")  # written last: a checkpoint is complete or absent

    def load(self, parts: Dict[str, object], device) -> Dict:
        from safetensors.torch import load_file

        state = json.loads((self.folder / "state.json").read_text())
        for name, obj in parts.items():
            path = self.folder / f"{name}.safetensors"
            if obj is None or not path.is_file():
                continue
            tensors = load_file(str(path), device=str(device))
            if isinstance(obj, torch.optim.Optimizer):
                _load_optimizer(obj, tensors, state[f"{name}_extra"])
            else:
                _unwrap(obj).load_state_dict(tensors)
        return state
