"""Registry entry points of the deep-learning methods (patch CNN, U-Net, CMPU-Net, GAN).

Scar methods take the runner's ScarInput like every other scar method; myocardium methods
take the whole image. Both import torch only when called.
"""
from __future__ import annotations

from functools import partial
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..errors import InputError
from .base import ScarInput, ScarResult


def _require_torch(method: str) -> None:
    try:
        import torch  # noqa: F401
        import monai  # noqa: F401
    except ImportError:
        raise InputError(f"method {method} needs PyTorch and MONAI: pip install 'LVScarSeg[dl]' "
                         "(in Slicer: the PyTorch extension), or choose a classical method") from None


def _scar(method: str, inp: ScarInput, tta: bool = False, model: str = "", min_infarct_mm3: float = 20.0,
          grow_wall_voxels: int = 0) -> ScarResult:
    _require_torch(method)  # before importing anything that imports torch
    from scipy import ndimage as ndi

    from ..deep.infer import scar_probabilities
    from ..masks import components_touching, in_plane_structure, remove_small

    inp.progress(0.3, f"scar: {method} network")
    spacing_kji = inp.grid.spacing_kji
    probs, uncertainty, info = scar_probabilities(inp.image, inp.myocardium, spacing_kji, method, inp.device,
                                                  tta, model or None)
    cls = probs.argmax(0)
    wall = inp.myocardium
    # The networks learnt that a drawn contour can be a voxel too tight: infarct may reach beyond
    # the wall (in-plane) where it is connected to infarct inside it: one voxel behind a model's
    # wall, and only when asked for (grow_wall_voxels) behind the reader's.
    grow = grow_wall_voxels if inp.wall_given else max(1, grow_wall_voxels)
    allowed = (ndi.binary_dilation(wall, structure=in_plane_structure(inp.spacing), iterations=grow)
               if grow else wall)
    infarct = np.isin(cls, (2, 3)) & allowed
    infarct = components_touching(infarct, infarct & wall)
    voxel_mm3 = float(np.prod(inp.spacing))
    infarct = remove_small(infarct, int(np.ceil(min_infarct_mm3 / voxel_mm3)))
    mvo = (cls == 3) & infarct & wall
    gray = (cls == 1) & wall & ~infarct
    details = {"model": info.get("name"), "model_sha256": info.get("sha256"), "inference": info.get("inference"),
               "tta": tta,
               "probability_classes": ["healthy", "grayzone", "scar", "mvo"]}
    warnings = []
    outside = int((infarct & ~wall).sum())
    if outside:
        where = "the given myocardium" if inp.wall_given else "the model's myocardium"
        warnings.append(f"scar extended {outside * voxel_mm3 / 1000:.2f} mL beyond {where} where the contour looked "
                        "a voxel too tight (the voxels count as LV wall)")
    details["grown_wall_ml"] = round(outside * voxel_mm3 / 1000, 4)
    return ScarResult(scar=infarct, grayzone=gray, mvo=mvo if mvo.any() else None, info=details,
                      warnings=warnings, uncertainty=uncertainty)


# The registry's entry points: one function per network, the same code behind them.
scar_cnn = partial(_scar, "cnn")
scar_unet = partial(_scar, "unet")
scar_cmpunet = partial(_scar, "cmpunet")
scar_gan = partial(_scar, "gan")


def _myocardium(method: str, image: np.ndarray, spacing_ijk, device: str = "auto", progress=lambda f, m: None,
                myo_tta: bool = False, myo_model: str = "", localizer_model: str = "", localize: bool = True,
                lv_center_kji=None) -> Tuple[np.ndarray, Optional[np.ndarray], Dict, List[str]]:
    """(codes: 0 background, 1 blood pool, 2 LV wall; disagreement map or None; details; warnings).
    ``lv_center_kji``: a point in the LV cavity (voxel index k, j, i): no localization."""
    _require_torch(method)  # before importing anything that imports torch
    from ..deep.infer import segment_myocardium
    from ..geometry import spacing_kji

    return segment_myocardium(image, spacing_kji(spacing_ijk), method, device, myo_tta, myo_model or None,
                              localizer_model or None, progress, localize, lv_center_kji)


myocardium_unet = partial(_myocardium, "unet")
myocardium_cmpunet = partial(_myocardium, "cmpunet")
myocardium_gan = partial(_myocardium, "gan")
