"""What a training run is (``lvscarseg train``'s options), and the checks that refuse a bad one
before PyTorch is even imported."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from ..errors import InputError

# Models trained on EMIDEC carry its license (CC BY-NC-SA 4.0): non-commercial, share alike.
EMIDEC_LICENSE = "CC-BY-NC-SA-4.0"
# --border-blood-weight: blood pool this many voxels (chessboard) from the wall is "next to" it
BORDER_BLOOD_REACH = 2


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
    synth_appearance: bool = False  # myocardium tasks: each tissue's brightness drawn anew (augment.random_appearance)
    bright_infarct: float = 0.0  # myocardium tasks: this fraction of samples with infarct as bright as blood
    infarct_weight: float = 1.0  # myocardium tasks: loss weight of infarct wall voxels
    border_blood_weight: float = 1.0  # myocardium tasks: loss weight of blood pool next to the wall
    model_walls: float = 0.0  # scar tasks: fraction of samples given the myocardium model's wall (model_walls.py)

    def check(self) -> None:
        """InputError naming the first option out of range (a run that cannot start fails here)."""
        from ..phantom.cases import PROTOCOLS
        from .tasks import TASKS

        if not self.output.endswith(".safetensors"):
            raise InputError(f"{self.output}: the model file must end in .safetensors")
        for name, value, low in (("--steps", self.steps, 1), ("--batch", self.batch, 1),
                                 ("--val-every", self.val_every, 1), ("--checkpoint-every", self.checkpoint_every, 1),
                                 ("--phantoms", self.phantoms, 0), ("--workers", self.workers, 1),
                                 ("--val-cases", self.val_cases, 0)):
            if value < low:
                raise InputError(f"{name} {value}: must be at least {low}")
        if not 0.0 <= self.bright_infarct <= 1.0:
            raise InputError(f"--bright-infarct {self.bright_infarct}: must be a fraction between 0 and 1")
        if not 0.0 <= self.model_walls <= 1.0:
            raise InputError(f"--model-walls {self.model_walls}: must be a fraction between 0 and 1")
        for name, value in (("--infarct-weight", self.infarct_weight),
                            ("--border-blood-weight", self.border_blood_weight)):
            if not 1.0 <= value <= 100.0:
                raise InputError(f"{name} {value}: must be between 1 and 100")
        if not self.lr > 0:
            raise InputError(f"--lr {self.lr}: must be positive")
        if self.task not in TASKS:
            raise InputError(f"--task {self.task}: unknown (choose one of {', '.join(TASKS)})")
        bad = [p for p in self.protocols if p not in PROTOCOLS]
        if bad:
            raise InputError(f"--protocols: unknown {', '.join(bad)} (choose from {', '.join(PROTOCOLS)})")
