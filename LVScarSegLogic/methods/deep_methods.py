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
from .common_params import BASAL_CHECK
from .confidence import EVIDENCE_EXTENT_MM, EVIDENCE_MIN_MM3, REVIEW_PERCENT, REVIEW_PHRASE, unconvincing_infarct
from .declare import myocardium_method, scar_method
from .registry import Param


def _require_torch(method: str) -> None:
    try:
        import monai  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        raise InputError(f"method {method} needs PyTorch and MONAI: pip install 'LVScarSeg[dl]' "
                         "(in Slicer: the PyTorch extension), or choose a classical method") from None


def _scar(method: str, inp: ScarInput, tta: bool = False, model: str = "", min_infarct_mm3: float = 20.0,
          grow_wall_voxels: int = 0, basal_check: bool = True, confidence_gate: float = -1.0) -> ScarResult:
    _require_torch(method)  # before importing anything that imports torch
    from scipy import ndimage as ndi

    from ..deep.infer import scar_probabilities
    from ..masks import components_touching, in_plane_structure, remove_small, with_endocardial_ring
    from .postprocess import lone_basal_infarct
    from .reference import cavity

    inp.progress(0.3, f"scar: {method} network")
    spacing_kji = inp.grid.spacing_kji
    wall = inp.myocardium
    if not inp.wall_given:
        # A myocardium model's endocardial border tends to run through bright subendocardial
        # infarct (EMIDEC held-out exams: only 60 % of the true infarct inside the predicted wall,
        # 30 % called blood pool): behind a model's wall the scar network sees the wall one voxel
        # wider toward the cavity. Healthy voxels of that ring stay outside the wall; infarct
        # found there counts as wall (reported below). EMIDEC's training exams, fully automatic:
        # infarct Dice 0.45 -> 0.48, LV wall Dice unchanged (0.79).
        wall = with_endocardial_ring(wall, cavity(inp), inp.spacing)
    probs, uncertainty, info = scar_probabilities(inp.image, wall, spacing_kji, method, inp.device,
                                                  tta, model or None)
    cls = probs.argmax(0)
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
    lone = lone_basal_infarct(inp, infarct) if basal_check else np.zeros_like(infarct)
    infarct &= ~lone
    # The gate's threshold belongs to a model (its manifest's "confidence_gate", chosen on its
    # training data; none: off): the phantom-trained scar-cmpunet is already clean in EMIDEC's
    # healthy exams and lost infarct to the default model's 0.78 (training exams 0.478 -> 0.453).
    # Behind a model's wall the gate is off: there the wall's own errors decide (EMIDEC training
    # exams, fully automatic: infarct Dice 0.486 -> 0.467 with it, the worst healthy exam unchanged).
    gate = float(info.get("confidence_gate", 0.0)) if confidence_gate < 0 else confidence_gate
    gate = gate if inp.wall_given else 0.0
    weak = unconvincing_infarct(infarct, probs[2] + probs[3], inp.spacing, gate)
    infarct &= ~weak
    mvo = (cls == 3) & infarct & wall
    gray = (cls == 1) & inp.myocardium & ~infarct
    details = {"model": info.get("name"), "model_sha256": info.get("sha256"), "inference": info.get("inference"),
               "tta": tta,
               "probability_classes": ["healthy", "grayzone", "scar", "mvo"]}
    warnings = []
    outside = int((infarct & ~inp.myocardium).sum())
    if outside:
        where = "the given myocardium" if inp.wall_given else "the model's myocardium"
        warnings.append(f"scar extended {outside * voxel_mm3 / 1000:.2f} mL beyond {where} where the contour looked "
                        "a voxel too tight (the voxels count as LV wall)")
    details["grown_wall_ml"] = round(outside * voxel_mm3 / 1000, 4)
    details["lone_basal_ml"] = round(int(lone.sum()) * voxel_mm3 / 1000, 4)
    details["unconvincing_ml"] = round(int(weak.sum()) * voxel_mm3 / 1000, 4)
    details["confidence_gate"] = gate
    if weak.any():
        share = 100.0 * weak.sum() / max(int(inp.myocardium.sum()), 1)
        warnings.append(f"{details['unconvincing_ml']:.2f} mL ({share:.1f} % of the wall) of infarct candidates dropped: "
                        f"none was convincing (mean probability <= {gate:g}, shorter than "
                        f"{EVIDENCE_EXTENT_MM:g} mm through-plane), as in healthy hearts; confidence_gate=0 keeps them"
                        + (f"; {REVIEW_PHRASE}" if share >= REVIEW_PERCENT else ""))
    return ScarResult(scar=infarct, grayzone=gray, mvo=mvo if mvo.any() else None, info=details,
                      warnings=warnings, uncertainty=uncertainty)


# The registry's entry points: one function per network, the same code behind them.
_TTA = Param("tta", "bool", False, "Test-time augmentation: also predict the mirrored image and average (slower; "
             "gives the disagreement map written by --uncertainty).")
_DL_MODEL = Param("model", "path", "", "A model file from `lvscarseg train` (.safetensors with its .json manifest "
                  "beside it); empty: the shipped model.")
_MIN_INFARCT = Param("min_infarct_mm3", "float", 20.0, "Infarct components smaller than this are dropped (mm^3).",
                     min=0.0, max=5000.0)
_CONFIDENCE_GATE = Param(
    "confidence_gate", "float", -1.0, "With a given myocardium: a heart's infarct is kept only when one of its "
    f"components (>= {EVIDENCE_MIN_MM3:g} mm^3) is convincing: mean infarct probability above this, or reaching "
    f"{EVIDENCE_EXTENT_MM:g} mm through-plane; otherwise all of it is dropped and the report says how much (2 % of the "
    "wall or more makes the verdict uncertain). -1 (default): the threshold the model's manifest gives, chosen on its "
    "training data (scar-cmpunet-emidec: 0.78; EMIDEC held-out exams, expert wall: healthy worst 2.5 -> 1.4 %, all 19 "
    "at most 2 %, infarct Dice 0.777 either way); none given: off. 0: off. Off behind a model's wall.",
    min=-1.0, max=1.0)
_GROW_WALL = Param("grow_wall_voxels", "int", 0, "Opt-in: infarct may reach this many voxels (in-plane) beyond a "
                   "given myocardium where the network calls it infarct (a contour drawn too tight); the report says "
                   "how much was added. 0 (default): the given myocardium is the wall. A wall drawn by a myocardium "
                   "model always allows 1 (the networks were trained for that).", min=0, max=3)


def _network_scar(name: str, summary: str, reference: str):
    return scar_method(name=name, family="deep learning", summary=summary,
                       params=(_TTA, _DL_MODEL, _MIN_INFARCT, _GROW_WALL, BASAL_CHECK, _CONFIDENCE_GATE),
                       needs=("myocardium", "torch"),
                       reference=reference, common=False, entry=f"deep_methods:scar_{name}")(partial(_scar, name))


scar_cnn = _network_scar("cnn", "The lecture's patch CNN: each wall voxel classified from the 21x21-voxel patch "
                         "around it (healthy / gray zone / scar / MVO).",
                         "Zabihollahy, White, Ukwatta, Proc SPIE 10575 (2018)")
scar_unet = _network_scar("unet", "3D residual U-Net (MONAI) on the image and the wall mask: healthy / gray zone / "
                          "scar / MVO.", "Ronneberger 2015; Cicek 2016; MONAI UNet")
scar_cmpunet = _network_scar("cmpunet", "Cascaded multi-planar U-Net, scar stage: 2D U-Net across the three planes "
                             "on the image and the wall, probabilities averaged.",
                             "Zabihollahy et al., Med Phys 2020 (CMPU-Net)")
scar_gan = _network_scar("gan", "U-Net generator trained against a CNN discriminator (adversarial + Dice + "
                         "cross-entropy).", "Goodfellow 2014; Isola 2017 (pix2pix); lecture's GAN")


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


_MYO_PARAMS = (
    Param("myo_tta", "bool", False, "Test-time augmentation for the myocardium network (mirrored predictions "
          "averaged)."),
    Param("myo_model", "path", "", "Myocardium model file from `lvscarseg train`; empty: the shipped one."),
    Param("localizer_model", "path", "", "LV localizer model file; empty: the shipped one."),
    Param("localize", "bool", True, "Find the LV first (3D U-Net at 4 mm) and segment a crop around it; off: "
          "search the whole image (slower; for images already cropped around the heart)."),
)


def _network_myocardium(name: str, summary: str):
    return myocardium_method(name=name, family="deep learning", summary=summary, params=_MYO_PARAMS,
                             needs=("torch",), reference="LV localized by a 3D U-Net at 4 mm, then the crop at 1.25 mm",
                             entry=f"deep_methods:myocardium_{name}")(partial(_myocardium, name))


myocardium_unet = _network_myocardium("unet", "3D residual U-Net (MONAI) on the localized LV crop: blood pool and "
                                      "LV wall.")
myocardium_cmpunet = _network_myocardium("cmpunet", "Cascaded multi-planar U-Net, myocardium stage: a 2D U-Net "
                                         "across the three planes, probabilities averaged.")
myocardium_gan = _network_myocardium("gan", "2D U-Net generator trained against a CNN discriminator.")
