"""Labelled case collections: the phantom layout and the EMIDEC PNG export.

A case gives an image array, EMIDEC codes (both (k, j, i)), a Grid and optional metadata.
- Phantom layout (``lvscarseg phantom``): ``images/NAME.nrrd`` + ``labels/NAME.nrrd`` (+ ``phantom.json``);
  any image format works, labels matched by file name.
- EMIDEC PNG (``train/`` + ``trainannot/``, ``val/`` + ``valannot/``): ``Case_X_sliceNNN.png`` slices are
  stacked per case. The export lost spacing and orientation: an assumed 1.5 x 1.5 x 10 mm grid
  is used, so millimetre figures on it are nominal.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from .errors import InputError
from .files import IMAGE_EXTENSIONS, extension
from .geometry import Grid

EMIDEC_ASSUMED_SPACING = (1.5, 1.5, 10.0)


@dataclass
class CaseRef:
    name: str
    image: Path
    label: Optional[Path]
    meta: Dict[str, object] = field(default_factory=dict)
    slices: List[Path] = field(default_factory=list)  # EMIDEC: the PNG slices, in order


def _stem(path: Path) -> str:
    ext = extension(path)
    return path.name[: -len(ext)] if ext else path.name


def find_cases(data_dir) -> List[CaseRef]:
    root = Path(data_dir)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder")
    if (root / "trainannot").is_dir() or (root / "valannot").is_dir():
        return _emidec_cases(root)
    images, labels = root / "images", root / "labels"
    if not images.is_dir() or not labels.is_dir():
        raise InputError(f"{root}: expected images/ and labels/ (as `lvscarseg phantom` writes) or an EMIDEC "
                         "PNG export (train/ + trainannot/)")
    meta = {}
    if (root / "phantom.json").exists():
        meta = {c["case"]: c for c in json.loads((root / "phantom.json").read_text())["cases"]}
    label_by_stem = {_stem(p): p for p in labels.iterdir() if extension(p) in IMAGE_EXTENSIONS + (".seg.nrrd",)}
    cases = []
    for img in sorted(images.iterdir()):
        if extension(img) not in IMAGE_EXTENSIONS and not img.is_dir():
            continue
        name = _stem(img)
        cases.append(CaseRef(name, img, label_by_stem.get(name), meta.get(name, {})))
    if not cases:
        raise InputError(f"{images}: no images found")
    return cases


def _emidec_cases(root: Path) -> List[CaseRef]:
    groups: Dict[str, List[Path]] = defaultdict(list)
    for split in ("train", "val"):
        folder = root / split
        if not folder.is_dir():
            continue
        for png in folder.glob("*.png"):
            m = re.match(r"(Case_[A-Z]\d+)_slice(\d+)\.png$", png.name)
            if m:
                groups[f"{split}/{m.group(1)}"].append(png)
    cases = []
    for name, slices in sorted(groups.items()):
        slices.sort()
        split, case = name.split("/")
        cases.append(CaseRef(case, slices[0], slices[0].parent.parent / f"{split}annot" / slices[0].name,
                             {"healthy": case.startswith("Case_N"), "protocol": "emidec-2d", "split": split},
                             slices))
    if not cases:
        raise InputError(f"{root}: no EMIDEC slices (Case_*_slice*.png) found")
    return cases


def load_case(case: CaseRef):
    """(image float32, codes uint8, Grid) for a case."""
    if case.slices:
        from PIL import Image

        image = np.stack([np.asarray(Image.open(p).convert("L"), dtype=np.float32) for p in case.slices])
        annot = case.slices[0].parent.parent / (case.slices[0].parent.name + "annot")
        codes = np.stack([np.asarray(Image.open(annot / p.name), dtype=np.uint8) for p in case.slices])
        grid = Grid.make(image.shape, EMIDEC_ASSUMED_SPACING, (0.0, 0.0, 0.0), np.eye(3))
        return image, codes, grid
    from .segio import read_label_codes
    from .volume import read_volume

    vol = read_volume(case.image)
    if case.label is None:
        raise InputError(f"{case.image}: no label file with the same name in labels/")
    codes, _ = read_label_codes(case.label, vol.grid, role="label", allow_empty=True)
    return vol.array.astype(np.float32), codes, vol.grid


def emidec_split(case: CaseRef, cases: List[CaseRef]) -> str:
    """"train" or "test" for an EMIDEC case, fixed for everyone: the ``val/`` exams and every fifth
    ``train/`` exam (sorted by name) are held out from training, so their scores are honest."""
    if case.meta.get("split") == "val":
        return "test"
    train = sorted(c.name for c in cases if c.meta.get("split") == "train")
    return "test" if train.index(case.name) % 5 == 0 else "train"
