"""Label codes, segment definitions and standard terminology (one table, used everywhere).

Labelmap codes follow the EMIDEC challenge, extended with a gray zone:
0 background, 1 LV blood pool, 2 healthy LV myocardium, 3 scar, 4 MVO, 5 gray zone.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

BACKGROUND, BLOODPOOL, MYOCARDIUM, SCAR, MVO, GRAYZONE = 0, 1, 2, 3, 4, 5
LV_MYOCARDIUM_CODES = (MYOCARDIUM, SCAR, MVO, GRAYZONE)  # the whole LV wall
INFARCT_CODES = (SCAR, MVO)  # MVO counts as infarct (SCMR)

_SCT = "SCT"
# Blood, Scar tissue and Necrosis are in Slicer's default "DICOM master list" context, so those
# segments name it (any Slicer shows them). Myocardium is in none of Slicer's default lists and the
# gray zone has no standard code: they name this project's own context, which the module loads into
# Slicer's terminology logic from Resources/Terminologies/LVScarSeg.term.json (terminology_context()).
DICOM_MASTER_CONTEXT = "Segmentation category and type - DICOM master list"
TERMINOLOGY_CONTEXT = "Segmentation category and type - LVScarSeg"
_ANATOMIC_CONTEXT = "Anatomic codes - DICOM master list"
_LEFT_VENTRICLE = [_SCT, "87878005", "Left ventricle"]


@dataclass(frozen=True)
class SegmentDef:
    id: str
    name: str
    code: int
    color: Tuple[float, float, float]  # RGB 0..1
    category: Tuple[str, str, str]
    type: Tuple[str, str, str]
    name_keywords: Tuple[str, ...]  # lower-case substrings that identify a hand-named segment
    context: str = TERMINOLOGY_CONTEXT  # the terminology context that holds category and type

    def terminology(self) -> dict:
        return {
            "contextName": self.context,
            "category": list(self.category),
            "type": list(self.type),
            "anatomicContextName": _ANATOMIC_CONTEXT,
            "anatomicRegion": list(_LEFT_VENTRICLE),
        }


def _rgb(r, g, b):
    return (round(r / 255.0, 4), round(g / 255.0, 4), round(b / 255.0, 4))


# Order = write order in the .seg.nrrd. Codes chosen from SNOMED CT as used by Slicer's
# terminologies; the gray zone has no SNOMED concept, so it uses this project's private
# coding scheme (DICOM allows "99"-prefixed private schemes).
SEGMENTS: "OrderedDict[str, SegmentDef]" = OrderedDict(
    (s.id, s)
    for s in (
        SegmentDef("bloodpool", "LV blood pool", BLOODPOOL, _rgb(216, 101, 79),
                   (_SCT, "85756007", "Tissue"), (_SCT, "87612001", "Blood"), ("blood pool", "bloodpool", "cavity"),
                   DICOM_MASTER_CONTEXT),
        SegmentDef("myocardium", "LV myocardium", MYOCARDIUM, _rgb(128, 174, 128),  # green: apart from the red blood
                   (_SCT, "123037004", "Anatomical Structure"), (_SCT, "74281007", "Myocardium"),
                   ("myocard", "myo")),
        SegmentDef("grayzone", "Gray zone", GRAYZONE, _rgb(241, 166, 60),
                   (_SCT, "49755003", "Morphologically Altered Structure"),
                   ("99LVSCARSEG", "GRAYZONE", "Peri-infarct gray zone"), ("gray zone", "grey zone", "grayzone",
                                                                           "greyzone", "border zone")),
        SegmentDef("scar", "Scar", SCAR, _rgb(255, 236, 70),
                   (_SCT, "85756007", "Tissue"), (_SCT, "12402003", "Scar tissue"), ("scar", "infarct", "enhancement"),
                   DICOM_MASTER_CONTEXT),
        SegmentDef("mvo", "MVO", MVO, _rgb(80, 60, 200),
                   (_SCT, "49755003", "Morphologically Altered Structure"), (_SCT, "6574001", "Necrosis"),
                   ("mvo", "no-reflow", "no reflow", "microvascular"), DICOM_MASTER_CONTEXT),
    )
)

def terminology_context() -> dict:
    """The segments that name this project's context, as a Slicer terminology context (the JSON
    schema of Slicer's ``SegmentationCategoryTypeModifier-*.json`` files): one category per distinct
    category code, its types with the segment colours as recommended display colours."""
    categories: "OrderedDict[Tuple[str, str, str], list]" = OrderedDict()
    for s in (s for s in SEGMENTS.values() if s.context == TERMINOLOGY_CONTEXT):
        categories.setdefault(s.category, []).append({
            "CodingSchemeDesignator": s.type[0], "CodeValue": s.type[1], "CodeMeaning": s.type[2],
            "3dSlicerLabel": s.id, "recommendedDisplayRGBValue": [round(255 * c) for c in s.color]})
    return {"SegmentationCategoryTypeContextName": TERMINOLOGY_CONTEXT,
            "@schema": "https://raw.githubusercontent.com/qiicr/dcmqi/master/doc/segment-context-schema.json#",
            "SegmentationCodes": {"Category": [
                {"CodingSchemeDesignator": c[0], "CodeValue": c[1], "CodeMeaning": c[2], "showAnatomy": "true",
                 "Type": types} for c, types in categories.items()]}}


# When hand-drawn segments overlap, the more specific finding wins.
OVERLAP_PRIORITY = ("bloodpool", "myocardium", "grayzone", "scar", "mvo")

CODE_TO_ID: Dict[int, str] = {s.code: s.id for s in SEGMENTS.values()}


def segment_for_name(name: str):
    """The segment definition whose keywords occur in a hand-typed segment name, or None.

    MVO and gray zone are tested before scar and myocardium because a name such as
    "scar MVO" or "myocardium gray zone" means the more specific structure.
    """
    lower = name.lower()
    for seg_id in ("mvo", "grayzone", "scar", "bloodpool", "myocardium"):
        if any(k in lower for k in SEGMENTS[seg_id].name_keywords):
            return SEGMENTS[seg_id]
    return None


def lv_myocardium(codes: np.ndarray) -> np.ndarray:
    return np.isin(codes, LV_MYOCARDIUM_CODES)


def infarct(codes: np.ndarray) -> np.ndarray:
    return np.isin(codes, INFARCT_CODES)
