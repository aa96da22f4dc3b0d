"""The network registry: every architecture the tasks use, built from MONAI's building blocks.

``build(name, dims, in_channels, out_channels, **args)`` returns a ``torch.nn.Module`` whose
output has ``out_channels`` logits per voxel at the input's size.
"""
from __future__ import annotations

from typing import Callable, Dict

import torch
from torch import nn


def _unet(dims: int, in_channels: int, out_channels: int, channels=(16, 32, 64, 128), strides=(2, 2, 2),
          num_res_units: int = 2, dropout: float = 0.1) -> nn.Module:
    # Instance normalization: each image is normalized by itself, which copes with the scanner-
    # to-scanner intensity differences of LGE better than batch statistics.
    from monai.networks.nets import UNet

    return UNet(spatial_dims=dims, in_channels=in_channels, out_channels=out_channels, channels=tuple(channels),
                strides=tuple(strides), num_res_units=num_res_units, norm="instance", dropout=dropout)


class PatchCNN(nn.Module):
    """A voxel classifier on patches, written fully convolutionally: no pooling and no padding
    effects inside the receptive field, so the logits at a voxel depend only on the 21x21
    patch around it, exactly as if each patch were classified on its own, but computed for all
    voxels at once."""

    RECEPTIVE_FIELD = 21

    def __init__(self, dims: int, in_channels: int, out_channels: int, width: int = 32):
        super().__init__()
        from monai.networks.blocks import Convolution

        layers = []
        c = in_channels
        # kernel 3 with dilations 1, 1, 2, 2, 4: receptive field 1 + 2*(1+1+2+2+4) = 21
        for i, d in enumerate((1, 1, 2, 2, 4)):
            out = width if i < 2 else 2 * width
            layers.append(Convolution(dims, c, out, kernel_size=3, dilation=d, padding=d, norm="instance",
                                      act="relu", dropout=0.1 if i == 4 else None))
            c = out
        layers.append(Convolution(dims, c, 2 * width, kernel_size=1, act="relu", norm=None))
        layers.append(Convolution(dims, 2 * width, out_channels, kernel_size=1, conv_only=True))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class Discriminator(nn.Module):
    """The GAN's critic: a small strided CNN scoring (image channels + class probabilities) patches
    as real (reference labels) or generated (PatchGAN-style map of logits)."""

    def __init__(self, dims: int, in_channels: int, width: int = 32):
        super().__init__()
        from monai.networks.blocks import Convolution

        c, layers = in_channels, []
        for i, out in enumerate((width, 2 * width, 4 * width)):
            layers.append(Convolution(dims, c, out, strides=2, kernel_size=4, padding=1, act=("leakyrelu", {"negative_slope": 0.2}),
                                      norm=None if i == 0 else "instance"))
            c = out
        layers.append(Convolution(dims, c, 1, kernel_size=3, padding=1, conv_only=True))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


NETWORKS: Dict[str, Callable[..., nn.Module]] = {
    "unet": _unet,
    "patchcnn": lambda dims, in_channels, out_channels, **kw: PatchCNN(dims, in_channels, out_channels, **kw),
}


def build(name: str, dims: int, in_channels: int, out_channels: int, **args) -> nn.Module:
    return NETWORKS[name](dims, in_channels, out_channels, **args)


def build_for(task) -> nn.Module:
    return build(task.network, task.dims, task.in_channels, len(task.classes), **task.network_args)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def pick_device(device: str = "auto") -> torch.device:
    from ..errors import InputError

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA GPU is available to PyTorch on this machine (use auto or cpu)")
    return torch.device(device)
