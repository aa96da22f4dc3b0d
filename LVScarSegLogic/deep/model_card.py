"""The model file, its manifest (JSON: task, network, training, license, SHA-256) and its model
card (Markdown: data, license, measured accuracy on data it never saw)."""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Dict, List, Sequence

import torch

from .. import __version__
from .checkpoint import _save_tensors
from .config import BORDER_BLOOD_REACH, EMIDEC_LICENSE, TrainConfig
from .scoring import VALIDATION_METRIC
from .tasks import Task

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
                     "validation_metric": VALIDATION_METRIC[task.target]
                     + (" and given the default myocardium model's wall" if cfg.model_walls and task.target == "scar"
                        else ""),
                     **({"wall_augmentation": WALL_AUGMENTATION} if task.target == "scar" else {}),
                     **({"intensity_augmentation": LOCALIZER_AUGMENTATION} if task.target == "localizer" else {}),
                     **({"intensity_augmentation": SYNTH_APPEARANCE}
                        if cfg.synth_appearance and task.target == "myocardium" else {}),
                     **({"bright_infarct": f"in {cfg.bright_infarct:g} of the samples the infarct as bright as 0.8-1.4x "
                                           "the blood pool (DICOM-quality LGE; EMIDEC's export has it near the wall's)"}
                        if cfg.bright_infarct and task.target == "myocardium" else {}),
                     **({"model_walls": f"in {cfg.model_walls:g} of the samples the wall the default myocardium "
                                        "model draws on the case, with its endocardial ring, kept as drawn"}
                        if cfg.model_walls and task.target == "scar" else {}),
                     **({"infarct_weight": f"infarct wall voxels weighted {cfg.infarct_weight:g}x in the loss"}
                        if cfg.infarct_weight != 1.0 and task.target == "myocardium" else {}),
                     **({"border_blood_weight": f"blood pool within {BORDER_BLOOD_REACH} voxels of the wall weighted "
                                                f"{cfg.border_blood_weight:g}x in the loss"}
                        if cfg.border_blood_weight != 1.0 and task.target == "myocardium" else {}),
                     # 2D networks train on a thick-slice stack's own slices (data.PreparedCase.view)
                     **({"native_slices": True} if task.dims == 2 else {}),
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
        *([f"- thick-slice stacks (slices > 3 pixels apart): in-plane only, on the image's own slices at "
           f"{m['working_spacing_mm']} mm in-plane, never interpolated through-plane"
           + ("; trained and validated that way too" if t.get("native_slices") else "") + "."]
          if m["dims"] == 2 else []),
        "", "## Training data", f"- {m['trained_on']}.",
        "- augmentation: rotation, scale 0.8-1.25 (voxel size), flips, gamma, contrast, coil-bias field, noise"
        + (f"; {t.get('wall_augmentation', LEGACY_WALL_AUGMENTATION)}" if task.target == "scar" else "")
        + (f"; {t['intensity_augmentation']}" if "intensity_augmentation" in t else "")
        + (f"; {t['bright_infarct']}" if "bright_infarct" in t else "")
        + (f"; {t['infarct_weight']}" if "infarct_weight" in t else "")
        + (f"; {t['model_walls']}" if "model_walls" in t else "")
        + (f"; {t['border_blood_weight']}" if "border_blood_weight" in t else "") + ".",
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
