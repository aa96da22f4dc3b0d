"""``lvscarseg train``: train one task's network; single process or PyTorch DDP under torchrun.

- Data: phantoms generated on the fly (``phantoms``) and/or labelled folders (phantom layout or
  EMIDEC PNG export; EMIDEC's held-out cases are never used), split into training and
  validation cases.
- Each step: a batch of random slices (2D) or patches (3D), augmented on the device; loss =
  cross-entropy + soft Dice (scar tasks: inside the wall mask grown by a voxel, plus a Dice
  term on infarct = scar + MVO); GAN tasks add a discriminator.
- Regularization: dropout, AdamW weight decay, augmentation, early stopping on the validation
  Dice (``patience`` evaluations without improvement); the best weights are kept.
- Checkpoints (safetensors + JSON, never pickles) every ``checkpoint_every`` steps; ``resume``
  continues from the last one with the same learning-rate schedule.
- Under ``torchrun --nproc_per_node N`` (env WORLD_SIZE > 1) every process trains on its own
  share of the cases with DistributedDataParallel (gloo on CPU, NCCL on GPUs); rank 0
  validates, checkpoints and writes the model.
"""
from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .. import __version__
from .. import labels as L
from ..errors import InputError
from ..files import sha256_of as sha256_of_file
from ..masks import dice
from . import data as D
from .networks import Discriminator, build_for, pick_device
from .tasks import TASKS, Task

EMIDEC_LICENSE = "CC-BY-NC-SA-4.0"


@dataclass
class TrainConfig:
    task: str
    output: str
    phantoms: int = 0
    phantom_seed: int = 1000
    protocols: Tuple[str, ...] = ("3d-highres", "3d-iso", "2d-stack", "large-fov")
    data: Tuple[str, ...] = ()
    val_cases: int = 2  # phantoms of seed phantom_seed + 1 (and 1 in 8 folder cases)
    steps: int = 2000
    batch: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    adv_weight: float = 0.05
    val_every: int = 200
    patience: int = 6
    checkpoint_dir: Optional[str] = None
    checkpoint_every: int = 200
    resume: bool = False
    device: str = "auto"
    seed: int = 0
    workers: int = 1
    time_limit_s: float = 0.0  # 0: none
    cache: Optional[str] = None
    license: str = "BSD-3-Clause"
    init: Optional[str] = None  # start from this model file's weights (fine-tuning)
    synth_appearance: bool = False  # myocardium tasks: each tissue's brightness drawn anew (data.random_appearance)


# ----------------------------------------------------------------------------------------------
# loss and validation


def _region(x: torch.Tensor, task: Task) -> torch.Tensor:
    if task.target != "scar":
        return torch.ones_like(x[:, 0])
    wall = x[:, 1:2]
    pool = F.max_pool2d if task.dims == 2 else F.max_pool3d
    return pool(wall, 3, 1, 1)[:, 0]  # the wall grown by a voxel: the contour may be too tight


def seg_loss(logits: torch.Tensor, y: torch.Tensor, region: torch.Tensor, task: Task) -> torch.Tensor:
    """Cross-entropy + (1 - mean soft Dice of the foreground classes) inside ``region``."""
    n = logits.shape[1]
    ce = F.cross_entropy(logits.float(), y, reduction="none")
    ce = (ce * region).sum() / region.sum().clamp(min=1.0)
    p = torch.softmax(logits.float(), 1)
    onehot = F.one_hot(y, n).movedim(-1, 1).float()
    r = region[:, None]
    dims = tuple(d for d in range(p.dim()) if d != 1)
    inter = (p * onehot * r).sum(dims)
    denom = ((p + onehot) * r).sum(dims)
    dice = [(2 * inter[c] + 1.0) / (denom[c] + 1.0) for c in range(1, n)]
    if task.target == "scar":  # infarct = scar + MVO is what is measured
        pi, oi = (p[:, 2] + p[:, 3]) * region, (onehot[:, 2] + onehot[:, 3]) * region
        dice.append((2 * (pi * oi).sum() + 1.0) / ((pi + oi).sum() + 1.0))
    return ce + 1.0 - torch.stack(dice).mean()


# What the scar networks' wall channel was trained with (recorded in the manifest, so that a card
# rewritten later by scripts/annotate_model.py still says what that model saw).
WALL_AUGMENTATION = ("wall mask drawn like an observer's (a voxel, sometimes two, inside or outside the true "
                     "border in smooth patches)")
LEGACY_WALL_AUGMENTATION = "wall mask moved a voxel in or out"  # manifests without the field
# The localizer's extra intensity augmentation (recorded in the manifest; older localizers lack it).
LOCALIZER_AUGMENTATION = "a random increasing intensity curve and organ-scale multiplicative texture"
SYNTH_APPEARANCE = ("randomized appearance (SynthSeg-like) in 60 % of the samples: blood pool and LV wall each get a "
                    "random mean brightness on [0, 1] (blood may be darker than the wall), the other tissues a "
                    "random non-monotonic intensity curve; organ-scale texture in 30 %")
VALIDATION_METRIC = {"localizer": "LV (cavity + wall) Dice", "myocardium": "LV wall Dice",
                     "scar": "infarct Dice, mean of given the true wall and given an observer-like wall"}


def validate(model, task: Task, cases: Sequence[D.PreparedCase], device: torch.device) -> float:
    """Mean Dice on whole validation cases, predicted as at inference: localizer LV, myocardium
    wall, scar infarct (cases without infarct count when scar-free) given the true wall and given
    an observer-like wall (borders moved about a voxel in patches), half and half: users draw
    their contours, and an early stop on the true wall alone kept weights that trusted the wall
    too much."""
    from scipy import ndimage as ndi

    from ..phantom.observer import observer_myocardium
    from .prediction import predict

    model.eval()
    scores = []
    for n, case in enumerate(cases):
        if task.target == "localizer":
            probs, _ = predict(model, task, torch.from_numpy(case.loc_image)[None], device)
            scores.append(dice(probs.argmax(0).numpy() == 1, case.loc_lv > 0))
            continue
        wall = np.isin(case.codes, L.LV_MYOCARDIUM_CODES)
        img = torch.from_numpy(case.image)
        if task.target == "myocardium":
            probs, _ = predict(model, task, img[None], device)
            scores.append(dice(probs.argmax(0).numpy() == 2, wall))
            continue
        drawn = observer_myocardium(wall, (task.spacing_mm,) * 3, seed=n, cavity=case.codes == L.BLOODPOOL)
        for given in (wall, drawn):
            probs, _ = predict(model, task, torch.stack([img, torch.from_numpy(given).float()]), device)
            # as at inference: only in the given wall grown by a voxel
            pred = np.isin(probs.argmax(0).numpy(), (2, 3)) & ndi.binary_dilation(given)
            scores.append(dice(pred, np.isin(case.codes, L.INFARCT_CODES)))
    model.train()
    return float(np.mean(scores)) if scores else float("nan")


# ----------------------------------------------------------------------------------------------
# checkpoints: safetensors for tensors, JSON for the rest


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


# ----------------------------------------------------------------------------------------------
# data


def _emidec_training_names(folder) -> Optional[List[str]]:
    from ..datasets import emidec_split, find_cases

    refs = find_cases(folder)
    if not any(r.slices for r in refs):
        return None
    return [r.name for r in refs if emidec_split(r, refs) == "train"]


def load_data(cfg: TrainConfig, rank: int, world: int, progress) -> Tuple[List, List, List[str]]:
    """(training cases of this rank, validation cases, descriptions of the sources)."""
    cache = Path(cfg.cache) if cfg.cache else None
    train, val, sources = [], [], []
    if cfg.phantoms:
        mine = [i for i in range(cfg.phantoms) if i % world == rank]
        train += D.phantom_cases(cfg.phantoms, cfg.phantom_seed, cfg.protocols, cfg.workers, cache, indices=mine,
                                 progress=lambda f, m: progress(0.1 * f, m))
        sources.append(f"{cfg.phantoms} synthetic LGE phantoms (lvscarseg phantom generator, seed {cfg.phantom_seed}, "
                       f"protocols {', '.join(cfg.protocols)})")
        if rank == 0 and cfg.val_cases:
            val += D.phantom_cases(cfg.val_cases, cfg.phantom_seed + 1, cfg.protocols, cfg.workers, cache)
    for folder in cfg.data:
        names = _emidec_training_names(folder)
        cases = D.folder_cases(folder, names, cfg.seed)
        for i, case in enumerate(cases):
            if i % 8 == 7:
                if rank == 0:
                    val.append(case)
            elif (i - i // 8) % world == rank:
                train.append(case)
        what = "EMIDEC training exams (held-out exams excluded)" if names is not None else "labelled cases"
        sources.append(f"{len(cases)} {what} from {Path(folder).name}")
    if not train:
        raise InputError("no training cases: give --phantoms N and/or --data DIR")
    if cfg.synth_appearance and TASKS[cfg.task].target == "myocardium":
        # a network trained for any contrast is also chosen on another contrast: each validation
        # case once more with blood pool and wall brightness exchanged
        val += [D.PreparedCase(f"{c.name}-permuted", D.swap_brightness(c.image, c.codes), c.codes, c.loc_image,
                               c.loc_lv, f"{c.source}-permuted") for c in val]
    return train, val, sources


# ----------------------------------------------------------------------------------------------
# the loop


def _lr_at(step: int, cfg: TrainConfig, elapsed_s: float = 0.0) -> float:
    """Linear warm-up, then cosine decay to 5 % over the run; with a time limit the run's length
    is whichever comes first, the steps or the time, so a time-boxed run still anneals."""
    warm = max(1, min(100, cfg.steps // 20))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    t = (step - warm) / max(1, cfg.steps - warm)
    if cfg.time_limit_s:
        t = max(t, elapsed_s / cfg.time_limit_s)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


def train(cfg: TrainConfig, progress: Callable[[float, str], None] = lambda f, m: None) -> Dict[str, object]:
    import torch.distributed as dist

    task = TASKS.get(cfg.task)
    if task is None:
        raise InputError(f"--task {cfg.task}: unknown (choose one of {', '.join(TASKS)})")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(cfg.device)
    if world > 1:
        if device.type == "cuda":
            device = torch.device("cuda", local)
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    say = progress if rank == 0 else (lambda f, m: None)
    t0 = time.perf_counter()
    try:
        return _train(cfg, task, device, rank, world, say, t0)
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _train(cfg, task, device, rank, world, say, t0) -> Dict[str, object]:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    torch.manual_seed(cfg.seed)
    train_cases, val_cases, sources = load_data(cfg, rank, world, say)
    model = build_for(task).to(device)
    disc = Discriminator(task.dims, task.in_channels + len(task.classes)).to(device) if task.adversarial else None
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999)) if disc is not None else None
    ckpt = Checkpoint(Path(cfg.checkpoint_dir)) if cfg.checkpoint_dir else None
    state = {"step": 0, "best_score": -1.0, "best_step": -1, "bad_evals": 0, "history": []}
    best = None
    if cfg.init:
        from .loading import load_model

        start, _, _ = load_model(task.name, cfg.init, "cpu")  # verified; refuses another task's model
        model.load_state_dict(start.state_dict())
        sources.append(f"initialized from {Path(cfg.init).name} (sha256 {sha256_of_file(cfg.init)[:12]})")
    if cfg.resume:
        if ckpt is None or not ckpt.exists():
            raise InputError("--resume: no checkpoint in --checkpoint-dir to resume from")
        saved_task = json.loads((Path(cfg.checkpoint_dir) / "state.json").read_text()).get("task")
        if saved_task != task.name:
            raise InputError(f"{cfg.checkpoint_dir}: the checkpoint is of task {saved_task}, not {task.name}")
        state = ckpt.load({"model": model, "optimizer": opt, "disc": disc, "disc_optimizer": opt_d}, device)
        if (Path(cfg.checkpoint_dir) / "best.safetensors").is_file():
            from safetensors.torch import load_file
            best = load_file(str(Path(cfg.checkpoint_dir) / "best.safetensors"))
        say(state["step"] / cfg.steps, f"resumed at step {state['step']}")
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        model = DDP(model, device_ids=ids)
        disc = DDP(disc, device_ids=ids) if disc is not None else None
    model.train()
    rng = np.random.default_rng([cfg.seed, rank, state["step"]])
    gen = torch.Generator(device=device).manual_seed(int(rng.integers(2 ** 62)))
    amp = device.type == "cuda"
    bce = torch.nn.BCEWithLogitsLoss()
    start_step, stop, losses = state["step"], False, []
    per_rank_batch = max(1, cfg.batch // world)
    t_loop = time.perf_counter()
    for step in range(start_step, cfg.steps):
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, cfg, time.perf_counter() - t_loop)
        x, y = D.sample_batch(train_cases, task, per_rank_batch, rng)
        x, y = D.augment(x.to(device), y.to(device), task, gen, synth=cfg.synth_appearance)
        region = _region(x, task)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(x)
        loss = seg_loss(logits, y, region, task)
        if disc is not None:
            probs = torch.softmax(logits.float(), 1)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                fake_score = disc(torch.cat([x, probs], 1))
            loss = loss + cfg.adv_weight * bce(fake_score.float(), torch.ones_like(fake_score.float()))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if disc is not None:  # the critic: reference label maps are real, generated ones fake
            onehot = F.one_hot(y, len(task.classes)).movedim(-1, 1).float()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                real = disc(torch.cat([x, onehot], 1)).float()
                fake = disc(torch.cat([x, probs.detach()], 1)).float()
            loss_d = 0.5 * (bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake)))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        losses.append(float(loss.detach()))
        done = step + 1
        state["step"] = done
        if rank == 0 and (done % 10 == 0 or done == cfg.steps):
            say(0.1 + 0.9 * done / cfg.steps, f"{task.name} step {done}/{cfg.steps} loss {np.mean(losses[-10:]):.3f}")
        out_of_time = bool(cfg.time_limit_s) and time.perf_counter() - t_loop > cfg.time_limit_s
        if world > 1:  # every process must stop at the same step
            flag = torch.tensor([1.0 if out_of_time else 0.0], device=device)
            dist.broadcast(flag, 0)
            out_of_time = bool(flag.item())
        evaluate = val_cases and (done % cfg.val_every == 0 or done == cfg.steps or out_of_time)
        if rank == 0 and evaluate:
            score = validate(_unwrap(model), task, val_cases, device)
            state["history"].append({"step": done, "val_dice": score, "loss": float(np.mean(losses[-cfg.val_every:]))})
            if score > state["best_score"]:
                state.update(best_score=score, best_step=done, bad_evals=0)
                best = {k: v.detach().cpu().clone() for k, v in _unwrap(model).state_dict().items()}
            else:
                state["bad_evals"] += 1
            say(0.1 + 0.9 * done / cfg.steps, f"{task.name} step {done}: validation Dice {score:.3f} "
                f"(best {state['best_score']:.3f} at {state['best_step']})")
            stop = state["bad_evals"] >= cfg.patience
        stop = bool(stop or out_of_time)
        if world > 1:
            flag = torch.tensor([1.0 if stop else 0.0], device=device)
            dist.broadcast(flag, 0)
            stop = bool(flag.item())
        if rank == 0 and ckpt and (done % cfg.checkpoint_every == 0 or stop or done == cfg.steps):
            state["task"] = task.name
            ckpt.save(dict(state), {"model": model, "optimizer": opt, "disc": disc, "disc_optimizer": opt_d,
                                    "best": best})
        if stop:
            if out_of_time:
                say(0.1 + 0.9 * done / cfg.steps, f"time limit reached at step {done}")
            else:
                say(0.1 + 0.9 * done / cfg.steps, f"early stop at step {done}: no improvement in {cfg.patience} validations")
            break
    if world > 1:
        dist.barrier()
    if rank != 0:
        return {}
    final = best if best is not None else _unwrap(model).state_dict()
    seconds = time.perf_counter() - t0
    uses_emidec = any(c.source == "emidec" for c in train_cases + val_cases)
    return write_model(cfg, task, final, state, sources, seconds, device, world, uses_emidec, val_cases)


# ----------------------------------------------------------------------------------------------
# the model file, its manifest and card


def write_model(cfg: TrainConfig, task: Task, weights: Dict[str, torch.Tensor], state: Dict, sources: List[str],
                seconds: float, device, world: int, uses_emidec: bool, val_cases: Sequence = ()) -> Dict[str, object]:
    from ..files import sha256_of, write_text_atomic

    permuted = sum(c.source.endswith("-permuted") for c in val_cases)
    n_phantoms = sum(c.source == "phantom" for c in val_cases)
    held_out = [f"{n_phantoms} held-out phantom cases"] if n_phantoms else []
    if len(val_cases) - permuted > n_phantoms:
        held_out.append(f"{len(val_cases) - permuted - n_phantoms} cases of the labelled data (1 in 8, not trained on)")
    if permuted:
        held_out.append(f"the same {permuted} with blood pool and wall brightness exchanged")

    out = Path(cfg.output)
    if cfg.init:  # a model fine-tuned from an EMIDEC-trained one inherits its terms
        init_info = json.loads(Path(cfg.init).with_suffix(".json").read_text())
        uses_emidec = uses_emidec or init_info.get("license") == EMIDEC_LICENSE
    license_ = EMIDEC_LICENSE if uses_emidec else cfg.license
    name = out.name[: -len(".safetensors")]
    _save_tensors(out, weights, {"task": task.name, "format": "lvscarseg-torch-state-dict"})
    n_params = sum(int(v.numel()) for v in weights.values())
    manifest = {
        "name": name, "file": out.name, "sha256": sha256_of(out), "task": task.name, "target": task.target,
        "method": task.method, "network": task.network, "network_args": task.network_args, "dims": task.dims,
        "planes": list(task.planes), "classes": list(task.classes), "working_spacing_mm": task.spacing_mm,
        "normalization": "robust percentiles 1-99.5 of the network's input region mapped to [0, 1]",
        "license": license_, "trained_on": "; ".join(sources), "model_card": f"{name}.md",
        "training": {"steps": state["step"], "batch": cfg.batch, "lr": cfg.lr, "weight_decay": cfg.weight_decay,
                     "best_step": state["best_step"], "validation_dice": state["best_score"],
                     "validation_cases": len(val_cases), "validation_on": " + ".join(held_out) or "none",
                     "validation_metric": VALIDATION_METRIC[task.target],
                     **({"wall_augmentation": WALL_AUGMENTATION} if task.target == "scar" else {}),
                     **({"intensity_augmentation": LOCALIZER_AUGMENTATION} if task.target == "localizer" else {}),
                     **({"intensity_augmentation": SYNTH_APPEARANCE}
                        if cfg.synth_appearance and task.target == "myocardium" else {}),
                     "history": state["history"], "seconds": round(seconds, 1),
                     "device": str(device), "processes": world, "seed": cfg.seed},
        "parameters": n_params, "size_bytes": out.stat().st_size, "created": time.strftime("%Y-%m-%d"),
        "software": f"LVScarSeg {__version__}", "torch": torch.__version__, "python": platform.python_version(),
    }
    write_text_atomic(out.with_suffix(".json"), json.dumps(manifest, indent=1) + "\n")
    write_text_atomic(out.with_name(f"{name}.md"), model_card(manifest, task, uses_emidec))
    return manifest


def model_card(m: Dict, task: Task, uses_emidec: bool) -> str:
    t = m["training"]
    val = f"{t['validation_dice']:.3f}" if t["validation_dice"] >= 0 else "not measured (no validation cases)"
    held_out = t.get("validation_on") or f"{t['validation_cases']} held-out phantom cases"
    # models trained before the observer-like validation wall were scored on the true wall only
    metric = t.get("validation_metric") or {**VALIDATION_METRIC, "scar": "infarct Dice given the true wall"}[task.target]
    lines = [
        f"# Model card: {m['name']}", "",
        f"**Task:** {task.name} ({task.target}; contract method `{task.method}`). {task.summary}", "",
        "## Architecture",
        f"- network `{m['network']}` {json.dumps(m['network_args'])}, {m['dims']}D, {m['parameters']:,} parameters;",
        f"- input: {'image + wall mask' if task.in_channels == 2 else 'image'}, resampled to "
        f"{m['working_spacing_mm']} mm isotropic in the input's voxel axes; {m['normalization']};",
        f"- output classes: {', '.join(m['classes'])}"
        + (f"; 2D, applied across array planes {m['planes']} and averaged" if m["dims"] == 2 else "") + ".",
        "", "## Training data", f"- {m['trained_on']}.",
        "- augmentation: rotation, scale 0.8-1.25 (voxel size), flips, gamma, contrast, coil-bias field, noise"
        + (f"; {t.get('wall_augmentation', LEGACY_WALL_AUGMENTATION)}" if task.target == "scar" else "")
        + (f"; {t['intensity_augmentation']}" if "intensity_augmentation" in t else "") + ".",
        f"- {t['steps']} steps, batch {t['batch']}, AdamW lr {t['lr']} (cosine), weight decay {t['weight_decay']}, "
        f"{t['processes']} process(es) on {t['device']}, {t['seconds']} s; best weights at step {t['best_step']}.",
        "", "## Intended use",
        "Research and visual QA of LGE cardiac MRI in LVScarSeg (3D volumes and 2D short-axis stacks). Not a "
        "medical device. Every output must be reviewed and corrected by a qualified reader.",
        "", "## License", f"{m['license']}." + (" Trained on EMIDEC data (CC BY-NC-SA 4.0; Lalande et al., Data "
                                                "2020;5(4):89): non-commercial use only, share alike." if uses_emidec else
                                                " Trained only on synthetic phantoms generated by this project."),
        "", "## Measured accuracy", f"- validation ({held_out}): {metric} {val}.",
        *[f"- {line}" for line in m.get("notes", [])],
        *[f"- {k}: {v}" for k, v in m.get("benchmark", {}).items()],
        "- the full tables: benchmarks/results/deep/ (`make benchmark-deep`).", "",
        "## Limits",
        "Phantoms differ from real scans; EMIDEC PNGs lost their spacing (assumed 1.5 mm in-plane). Expect lower "
        "accuracy on unusual contrasts, severe artefacts, very thin walls and non-ischaemic patterns.", "",
    ]
    return "\n".join(lines)
