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
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from ..files import sha256_of as sha256_of_file
from . import data as D
from .augment import augment
from .checkpoint import Checkpoint, _unwrap
from .config import EMIDEC_LICENSE, TrainConfig
from .model_card import write_model
from .networks import Discriminator, build_for, pick_device
from .scoring import loss_region, seg_loss, validate
from .tasks import TASKS

__all__ = ["EMIDEC_LICENSE", "TrainConfig", "train"]


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
    if cfg.model_walls and TASKS[cfg.task].target == "scar":
        from .model_walls import attach_model_walls

        attach_model_walls(train + val, TASKS[cfg.task], device=cfg.device,
                           progress=lambda f, m: progress(0.1, m))
        sources.append(f"walls drawn by the default myocardium model ({cfg.model_walls:g} of the samples)")
    if cfg.synth_appearance and TASKS[cfg.task].target == "myocardium":
        # a network trained for any contrast is also chosen on another contrast: each validation
        # case once more with blood pool and wall brightness exchanged
        val += [D.permuted(c) for c in val]
    if cfg.bright_infarct and TASKS[cfg.task].target == "myocardium":
        # a network meant for bright infarct is also chosen on it: each validation case with
        # infarct once more with the infarct as bright as blood
        val += [b for b in (D.brightened(c, i) for i, c in enumerate(val)) if b is not None]
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
    weighted = task.target == "myocardium" and (cfg.infarct_weight != 1.0 or cfg.border_blood_weight != 1.0)
    for step in range(start_step, cfg.steps):
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, cfg, time.perf_counter() - t_loop)
        x, y = D.sample_batch(train_cases, task, per_rank_batch, rng, cfg.bright_infarct, mark_infarct=weighted,
                              model_walls=cfg.model_walls)
        x, y = augment(x.to(device), y.to(device), task, gen, synth=cfg.synth_appearance)
        region = loss_region(x, task)
        if weighted:
            y, weight = D.infarct_weights(y, cfg.infarct_weight, cfg.border_blood_weight)
            region = region * weight
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
