"""Training augmentation on batches (torch, on the training device): geometry (rotation, scale,
flips), intensity (gamma, contrast, coil bias, noise), a random intensity curve and organ-scale
texture for the localizer, each tissue's brightness drawn anew for networks meant for any
contrast (SynthSeg-like), and the wall as an observer draws it for the scar networks. Batches
are (n, C, *patch) images and (n, *patch) class indices, as ``data.sample_batch`` makes them."""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from .tasks import Task


def _random_affine(n: int, dims: int, gen: torch.Generator, device, rotate_deg: float, scale: Tuple[float, float]):
    """(n, dims, dims+1) affine matrices for affine_grid: rotation, isotropic scale (the working
    spacing varies like real voxel sizes), random flips and a small shift."""
    u = lambda *s: torch.rand(*s, generator=gen, device=device)
    s = scale[0] + (scale[1] - scale[0]) * u(n)
    flips = torch.where(u(n, dims) < 0.5, -1.0, 1.0)
    if dims == 2:
        a = (u(n) * 2 - 1) * math.radians(rotate_deg)
        rot = torch.stack([torch.stack([a.cos(), -a.sin()], -1), torch.stack([a.sin(), a.cos()], -1)], -2)
    else:
        rot = torch.eye(3, device=device).repeat(n, 1, 1)
        for ax in range(3):  # small rotations about each axis
            a = (u(n) * 2 - 1) * math.radians(rotate_deg)
            r = torch.eye(3, device=device).repeat(n, 1, 1)
            p, q = [d for d in range(3) if d != ax]
            r[:, p, p], r[:, p, q], r[:, q, p], r[:, q, q] = a.cos(), -a.sin(), a.sin(), a.cos()
            rot = rot @ r
    m = rot * flips[:, None, :] * s[:, None, None]
    shift = (u(n, dims) * 2 - 1) * 0.05
    return torch.cat([m, shift[..., None]], -1)


def _smooth_field(n: int, shape, gen, device, amplitude: float, grid: Optional[Tuple[int, ...]] = None
                  ) -> torch.Tensor:
    """A smooth random multiplicative field exp(N(0, amplitude)), interpolated from random values on
    a coarse ``grid`` (default 4 per axis: the coil bias)."""
    coarse = torch.randn((n, 1) + (grid or (4,) * len(shape)), generator=gen, device=device) * amplitude
    mode = "bilinear" if len(shape) == 2 else "trilinear"
    return torch.exp(F.interpolate(coarse, size=tuple(shape), mode=mode, align_corners=False))


def _morph(mask: torch.Tensor, dims: int, dilate: bool) -> torch.Tensor:
    pool = F.max_pool2d if dims == 2 else F.max_pool3d
    return pool(mask, 3, 1, 1) if dilate else -pool(-mask, 3, 1, 1)


def _piecewise_linear(z: torch.Tensor, knots: torch.Tensor) -> torch.Tensor:
    """Each sample's values z (n, ...) on [0, 1] (clipped) mapped through its own curve: ``knots``
    (n, m) are the curve's values at m equally spaced points of [0, 1], linear in between."""
    n, segments = z.shape[0], knots.shape[1] - 1
    pos = z.clamp(0, 1) * segments
    i0 = pos.floor().long().clamp(0, segments - 1)
    g0 = torch.gather(knots, 1, i0.reshape(n, -1)).view_as(z)
    g1 = torch.gather(knots, 1, (i0 + 1).reshape(n, -1)).view_as(z)
    return g0 + (g1 - g0) * (pos - i0)


def intensity_remap(img: torch.Tensor, gen: torch.Generator, keep: float = 0.2) -> torch.Tensor:
    """Each sample's intensities, scaled to its robust range (percentiles 1-99.5, clipped at 1.2),
    passed through a random increasing piecewise-linear curve (7 knots on [0, 1]); a fraction
    ``keep`` of the samples is only scaled. The order of tissue brightness is kept, their ratios
    are not: real LGE contrast between blood, myocardium, fat and the other organs varies far
    more than the phantom's. ``img`` (n, 1, *patch)."""
    n, dev = img.shape[0], img.device
    shape1 = (n,) + (1,) * (img.dim() - 1)
    flat = img.reshape(n, -1)
    lo, hi = torch.quantile(flat, 0.01, dim=1), torch.quantile(flat, 0.995, dim=1)
    z = ((img - lo.view(shape1)) / (hi - lo).clamp_min(1e-6).view(shape1)).clamp(0, 1.2)
    inner = torch.sort(torch.rand(n, 5, generator=gen, device=dev), dim=1).values
    knots = torch.cat([torch.zeros(n, 1, device=dev), inner, torch.ones(n, 1, device=dev)], 1)
    curved = _piecewise_linear(z, knots)
    return torch.where((torch.rand(n, generator=gen, device=dev) < keep).view(shape1), z, curved)


def random_appearance(img: torch.Tensor, y: torch.Tensor, gen: torch.Generator, probability: float = 0.6
                      ) -> torch.Tensor:
    """Each tissue's brightness drawn anew (after Billot et al.'s SynthSeg, MedIA 2023: networks
    trained on images of random contrast segment real scans of any contrast), for a fraction
    ``probability`` of the samples. ``img`` (n, 1, *patch) normalized; ``y`` (n, *patch) the
    myocardium task's classes (0 background, 1 blood pool, 2 LV wall).

    - Blood pool and LV wall each get a new mean, uniform on [0, 1], independently: blood may
      come out darker than the wall, the wall near zero or not. The voxels keep their deviation
      from their class's mean, scaled by a random factor (0.5-1.5), so enhanced scar stays
      brighter than healthy wall inside the wall.
    - The background (every other organ) goes through a random piecewise-linear curve that need
      not increase (7 knots with random values), which re-orders the surrounding tissues.
    LGE order is then a tendency of the real samples, not a law of the training set."""
    n, dev = img.shape[0], img.device
    shape1 = (n,) + (1,) * (img.dim() - 1)
    u = lambda *s: torch.rand(*s, generator=gen, device=dev)
    cls = y[:, None]
    z = img.clamp(-0.5, 2.0)
    out = _piecewise_linear(z, u(n, 7))
    dims = tuple(range(1, img.dim()))
    for c in (1, 2):
        m = (cls == c).float()
        count = m.sum(dims).clamp_min(1.0)
        mean = (z * m).sum(dims) / count
        new = u(n).view(shape1) + (z - mean.view(shape1)) * (0.5 + u(n)).view(shape1)
        out = torch.where(cls == c, new, out)
    on = (u(n) < probability).view(shape1)
    return torch.where(on, out, img)


def clutter_field(img: torch.Tensor, gen: torch.Generator, amplitude: float = 0.3, probability: float = 0.7
                  ) -> torch.Tensor:
    """``img`` times a random field exp(N(0, amplitude)) on a grid a sixth of the patch (organ-scale
    texture; the coil bias field is far smoother), for a fraction ``probability`` of the samples."""
    n, dev, shape = img.shape[0], img.device, img.shape[2:]
    field = _smooth_field(n, shape, gen, dev, amplitude, grid=tuple(max(2, s // 6) for s in shape))
    on = (torch.rand(n, generator=gen, device=dev) < probability).float().view((n,) + (1,) * (len(shape) + 1))
    return img * (1 + on * (field - 1))


def augment(x: torch.Tensor, y: torch.Tensor, task: Task, gen: torch.Generator, strength: float = 1.0,
            synth: bool = False):
    """Geometry (rotation, scale 0.8-1.25, flips), intensity (gamma, contrast, coil bias, noise) and,
    for scar tasks, a wall mask moved about a voxel in or out as a human or a network would draw it
    (``observer_wall``); for the localizer also a random intensity curve and organ-scale texture
    (``intensity_remap``, ``clutter_field``): a localizer trained on phantoms without them found
    the LV in none of EMIDEC's real exams. ``synth``: myocardium tasks also get each tissue's
    brightness drawn anew (``random_appearance``)."""
    n, dims, device = x.shape[0], task.dims, x.device
    u = lambda *s: torch.rand(*s, generator=gen, device=device)
    theta = _random_affine(n, dims, gen, device, 180.0 if dims == 2 else 15.0, (0.8, 1.25))
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    y = F.grid_sample(y[:, None].float(), grid, mode="nearest", padding_mode="zeros", align_corners=False)[:, 0].long()
    img = x[:, :1].clamp(min=0)
    shape1 = (n,) + (1,) * (dims + 1)
    gamma = torch.exp((u(n) * 2 - 1) * 0.4 * strength).view(shape1)
    img = img.pow(gamma)
    img = img * (0.8 + 0.45 * u(n)).view(shape1) + ((u(n) * 2 - 1) * 0.1).view(shape1)
    img = img * _smooth_field(n, x.shape[2:], gen, device, 0.25 * strength)
    img = img + torch.randn(img.shape, generator=gen, device=device) * (u(n) * 0.08 * strength).view(shape1)
    if task.target == "localizer":
        img = clutter_field(intensity_remap(img, gen), gen)
    elif task.target == "myocardium" and synth:
        # before blur-free noise and bias would be nicer; after keeps the code to one place
        # y.clamp: an infarct mark (data.INFARCT_WALL) is wall here
        img = clutter_field(random_appearance(img, y.clamp(max=2), gen), gen, probability=0.3)
    parts = [img]
    if task.target == "scar":
        parts.append(scar_wall_channel(x[:, 1:2], dims, gen))
    return torch.cat(parts, 1), y


def scar_wall_channel(channel: torch.Tensor, dims: int, gen: torch.Generator) -> torch.Tensor:
    """The 0/1 wall a scar network is given, from a (resampled) wall channel (n, 1, *patch): a
    true wall (1) redrawn as an observer would (``observer_wall``); a model's wall
    (``data.MODEL_DRAWN``, 2) kept as the model drew it, its own errors being what it teaches."""
    n = channel.shape[0]
    drawn = (channel.flatten(1).amax(1) > 1.5).view((n,) + (1,) * (dims + 1))
    wall = (channel > torch.where(drawn, 1.0, 0.5)).float()  # half a voxel, either value
    return torch.where(drawn, wall, observer_wall(wall, dims, gen))


def observer_wall(wall: torch.Tensor, dims: int, gen: torch.Generator) -> torch.Tensor:
    """The wall as a person (or a myocardium network) draws it: in smooth patches (about 10 voxels
    across) the border lies a voxel inside or outside the true one, inner and outer border alike;
    a fifth of the samples move two voxels, a fifth keep the true wall. ``wall`` (n, 1, *patch) 0/1.
    Whole-mask erosion or dilation alone taught the networks too little: a human contour is too
    tight in one place and too wide in the next."""
    n, device = wall.shape[0], wall.device
    u = lambda *s: torch.rand(*s, generator=gen, device=device)
    shape1 = (n,) + (1,) * (dims + 1)
    fields = []
    for _ in range(2):
        coarse = torch.randn((n, 1) + tuple(max(2, s // 10) for s in wall.shape[2:]), generator=gen, device=device)
        mode = "bilinear" if dims == 2 else "trilinear"
        fields.append(F.interpolate(coarse, size=tuple(wall.shape[2:]), mode=mode, align_corners=False))
    eroded, dilated = _morph(wall, dims, False), _morph(wall, dims, True)
    two = u(n).view(shape1) < 0.2
    eroded = torch.where(two, _morph(eroded, dims, False), eroded)
    dilated = torch.where(two, _morph(dilated, dims, True), dilated)
    out = torch.where(fields[0] < -0.3, eroded, wall)
    out = torch.where(fields[1] > 0.3, dilated, out)
    keep = u(n).view(shape1) < 0.2
    return torch.where(keep, wall, out)
