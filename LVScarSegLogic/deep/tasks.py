"""Every trainable model, declared once: what it segments, its network, its input and output.

A *task* is what ``lvscarseg train --task NAME`` trains and what a shipped model file
(``Resources/Models/NAME.safetensors``) holds. Plain Python: listing tasks costs no torch import.

Working space: every network sees the image resampled (in the input's own voxel axes, no
rotation) to ``WORKING_SPACING_MM`` isotropic and normalized to ~[0, 1] by robust percentiles;
its probabilities are resampled back onto the input grid. The localizer works on the whole
field of view at ``LOCALIZER_SPACING_MM``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Tuple

WORKING_SPACING_MM = 1.25
LOCALIZER_SPACING_MM = 4.0
# Classes of the myocardium networks and of the scar networks (inside the wall).
MYOCARDIUM_CLASSES = ("background", "bloodpool", "myocardium")
SCAR_CLASSES = ("healthy", "grayzone", "scar", "mvo")
LOCALIZER_CLASSES = ("background", "lv")


@dataclass(frozen=True)
class Task:
    name: str
    target: str  # "localizer", "myocardium" or "scar"
    method: str  # the contract's method name (cnn, unet, cmpunet, gan) or "localizer"
    network: str  # key of networks.NETWORKS
    network_args: Dict[str, object]
    dims: int  # 2: slices; 3: volumes
    planes: Tuple[int, ...]  # 2D only: array axes a slice is taken across (0 = the acquisition plane)
    patch: Tuple[int, ...]  # training patch (voxels of the working grid)
    adversarial: bool = False  # GAN: also trained against a discriminator
    summary: str = ""
    defaults: Dict[str, float] = field(default_factory=dict)  # training defaults (steps, batch, lr)

    @property
    def classes(self) -> Tuple[str, ...]:
        return {"localizer": LOCALIZER_CLASSES, "myocardium": MYOCARDIUM_CLASSES, "scar": SCAR_CLASSES}[self.target]

    @property
    def in_channels(self) -> int:
        return 2 if self.target == "scar" else 1  # scar nets also see the wall mask

    @property
    def spacing_mm(self) -> float:
        return LOCALIZER_SPACING_MM if self.target == "localizer" else WORKING_SPACING_MM


_UNET2D = {"channels": (16, 32, 64, 128), "strides": (2, 2, 2), "num_res_units": 2, "dropout": 0.1}
_UNET3D = {"channels": (16, 32, 64, 128), "strides": (2, 2, 2), "num_res_units": 2, "dropout": 0.1}
_ALL = (0, 1, 2)
_SLICE = (0,)

TASKS: Dict[str, Task] = {t.name: t for t in (
    Task("lv-localizer", "localizer", "localizer", "unet", {"channels": (8, 16, 32, 64), "strides": (2, 2, 2),
         "num_res_units": 1, "dropout": 0.0}, 3, (), (48, 64, 64),
         summary="3D residual U-Net at 4 mm on the whole field of view: where the LV (cavity + wall) is."),
    Task("myocardium-unet", "myocardium", "unet", "unet", _UNET3D, 3, (), (64, 64, 64),
         summary="3D residual U-Net (MONAI) on the LV crop: blood pool and LV wall."),
    Task("myocardium-cmpunet", "myocardium", "cmpunet", "unet", _UNET2D, 2, _ALL, (96, 96),
         summary="Cascaded multi-planar U-Net, stage 1: one 2D residual U-Net applied across all three "
                 "planes, probabilities averaged."),
    Task("myocardium-gan", "myocardium", "gan", "unet", _UNET2D, 2, _SLICE, (96, 96), adversarial=True,
         summary="2D residual U-Net generator trained with a CNN discriminator on image/mask pairs plus "
                 "Dice and cross-entropy."),
    Task("scar-cnn", "scar", "cnn", "patchcnn", {"width": 32}, 2, _SLICE, (96, 96),
         summary="The lecture's patch CNN: classifies each wall voxel from the 21x21-voxel patch around it "
                 "(evaluated densely as a fully convolutional net)."),
    Task("scar-unet", "scar", "unet", "unet", _UNET3D, 3, (), (64, 64, 64),
         summary="3D residual U-Net on the LV crop with the wall mask as a second channel."),
    Task("scar-cmpunet", "scar", "cmpunet", "unet", _UNET2D, 2, _ALL, (96, 96),
         summary="Cascaded multi-planar U-Net, stage 2: 2D U-Net across three planes on the image and the "
                 "(predicted or given) wall, probabilities averaged."),
    Task("scar-gan", "scar", "gan", "unet", _UNET2D, 2, _SLICE, (96, 96), adversarial=True,
         summary="2D residual U-Net generator with a CNN discriminator (image, wall, scar classes) plus "
                 "Dice and cross-entropy."),
)}


def task_for(target: str, method: str) -> Task:
    for t in TASKS.values():
        if t.target == target and t.method == method:
            return t
    raise KeyError(f"{target}:{method}")
