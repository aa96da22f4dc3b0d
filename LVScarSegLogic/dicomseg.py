"""The result as a DICOM Segmentation (highdicom): one segment per contract segment with its SNOMED
CT category, type and anatomic region (the LV), the algorithm that made it (LVScarSeg, version,
method, model and SHA-256), referencing the source series' instances; patient, study and frame of
reference come from the source. Needs highdicom (Python >= 3.10: ``pip install highdicom``)."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

from . import __version__
from . import labels as L
from .errors import InputError


def _require_highdicom():
    import importlib.util

    if importlib.util.find_spec("highdicom") is None:
        raise InputError("--dicom-seg needs highdicom (Python >= 3.10): pip install highdicom") from None


def check_source(image_path) -> None:
    """A DICOM SEG refers to its source images: the input must be a DICOM series (a folder)."""
    if not Path(image_path).is_dir():
        raise InputError(f"{image_path}: a DICOM SEG needs a DICOM source series (a folder of DICOM images); "
                         "this input is not DICOM, so write a .seg.nrrd instead")
    _require_highdicom()


def _algorithm(methods: Dict[str, Dict], models: Sequence[Dict]):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    scar, myo = methods["scar"]["name"], methods["myocardium"]["name"]
    parameters = {"scar_method": scar, "myocardium_method": myo}
    for m in models:
        parameters[f"model {m.get('task')}"] = f"{m.get('name')} sha256:{m.get('sha256', '')}"[:64]
    # a network made the result: artificial intelligence; a threshold or clustering method: histogram analysis
    family = codes.cid7162.ArtificialIntelligence if models else codes.cid7162.HistogramAnalysis
    return hd.AlgorithmIdentificationSequence(name="LVScarSeg", version=__version__, family=family,
                                              source=f"scar: {scar}; myocardium: {myo}"[:64], parameters=parameters)


def _concept(triple):
    import highdicom as hd

    return hd.sr.CodedConcept(value=triple[1], scheme_designator=triple[0], meaning=triple[2])


def segment_descriptions(segment_ids: Sequence[str], wall_given: bool, algorithm) -> List:
    import highdicom as hd

    out = []
    for number, seg_id in enumerate(segment_ids, start=1):
        s = L.SEGMENTS[seg_id]
        # the reader's wall is the reader's (manual); what the engine found inside it is automatic
        manual = wall_given and seg_id in ("myocardium", "bloodpool")
        out.append(hd.seg.SegmentDescription(
            segment_number=number, segment_label=s.name, segmented_property_category=_concept(s.category),
            segmented_property_type=_concept(s.type),
            algorithm_type=(hd.seg.SegmentAlgorithmTypeValues.MANUAL if manual
                            else hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC),
            algorithm_identification=None if manual else algorithm,
            tracking_uid=hd.UID(), tracking_id=f"LVScarSeg {seg_id}",
            anatomic_regions=[hd.sr.CodedConcept("87878005", "SCT", "Left ventricle")]))
    return out


def build_dicom_seg(codes: np.ndarray, sources: Sequence, methods: Dict[str, Dict], models: Sequence[Dict] = (),
                    wall_given: bool = False):
    """The binary DICOM SEG dataset of ``codes`` (k, j, i, EMIDEC codes on the source grid; ``sources``:
    the source instances in k order, dicomio.source_instances). Every contract segment is a segment
    (empty ones too, so segment numbers mean the same in every file)."""
    _require_highdicom()
    import highdicom as hd

    ids = list(L.SEGMENTS)
    pixels = np.stack([codes == L.SEGMENTS[i].code for i in ids], axis=-1)  # (frames, rows, columns, segments)
    first = sources[0]
    try:
        return _segmentation(hd, sources, pixels, ids, first, methods, models, wall_given)
    except (AttributeError, ValueError) as exc:  # the source lacks what a DICOM SEG must copy from it
        raise InputError(f"{getattr(first, 'filename', 'the source series')}: a DICOM SEG cannot be made from this "
                         f"series ({str(exc).splitlines()[0]})") from None


def _segmentation(hd, sources, pixels, ids, first, methods, models, wall_given):
    return hd.seg.Segmentation(
        source_images=sources, pixel_array=pixels, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=segment_descriptions(ids, wall_given, _algorithm(methods, models)),
        series_instance_uid=hd.UID(), series_number=int(getattr(first, "SeriesNumber", 0) or 0) + 1000,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="LVScarSeg", manufacturer_model_name="LVScarSeg",
        software_versions=__version__, device_serial_number="none", series_description="LVScarSeg LV scar",
        omit_empty_frames=False)


def write_dicom_seg(path, seg) -> Dict[str, object]:
    """Save a DICOM SEG dataset at ``path`` (atomically); what the report records of it."""
    from .files import atomic_output

    with atomic_output(path) as tmp:
        seg.save_as(str(tmp))
    return {"path": str(Path(path).resolve()), "sop_instance_uid": str(seg.SOPInstanceUID),
            "series_instance_uid": str(seg.SeriesInstanceUID),
            "segments": [[int(s.SegmentNumber), s.SegmentLabel] for s in seg.SegmentSequence]}
