"""The measurements as a DICOM Structured Report (TID 1500 Measurement Report, Comprehensive 3D SR,
highdicom): LV myocardium, infarct, MVO and gray zone volumes, masses and percentages, and the 17
AHA segments' infarct percentage and transmurality, each group referencing the DICOM SEG segment
it was measured on (the AHA segments as finding sites, DICOM CID 3717). Concepts without a
standard code use this project's private coding scheme 99LVSCARSEG."""
from __future__ import annotations

from typing import Dict, List

from . import __version__
from .files import atomic_output

_PRIVATE = "99LVSCARSEG"
# AHA 17-segment number -> the DICOM CID 3717 (Myocardial wall segments) attribute of pydicom's codes
AHA_CODES = {1: "LeftVentricleBasalAnteriorSegment", 2: "LeftVentricleBasalAnteroseptalSegment",
             3: "LeftVentricleBasalInferoseptalSegment", 4: "LeftVentricleBasalInferiorSegment",
             5: "LeftVentricleBasalInferolateralSegment", 6: "LeftVentricleBasalAnterolateralSegment",
             7: "LeftVentricleMidAnteriorSegment", 8: "LeftVentricleMidAnteroseptalSegment",
             9: "LeftVentricleMidInferoseptalSegment", 10: "LeftVentricleMidInferiorSegment",
             11: "LeftVentricleMidInferolateralSegment", 12: "LeftVentricleMidAnterolateralSegment",
             13: "LeftVentricleApicalAnteriorSegment", 14: "LeftVentricleApicalSeptalSegment",
             15: "LeftVentricleApicalInferiorSegment", 16: "LeftVentricleApicalLateralSegment",
             17: "ApexOfLeftVentricle"}


def _concepts():
    import highdicom as hd
    from pydicom.sr.codedict import codes

    c = hd.sr.CodedConcept
    return {
        "volume": codes.SCT.Volume,
        "mass": c("MASS", _PRIVATE, "Tissue mass (1.05 g/mL)"),
        "percent_lv": c("PCTLV", _PRIVATE, "Percentage of LV myocardium"),
        "pv_volume": c("PVVOL", _PRIVATE, "Partial-volume-weighted volume (Heiberg 2008)"),
        "percent_segment": c("PCTSEG", _PRIVATE, "Infarct percentage of the segment's myocardium"),
        "transmurality_mean": c("TRANSMEAN", _PRIVATE, "Mean infarct transmurality"),
        "transmurality_max": c("TRANSMAX", _PRIVATE, "Maximum infarct transmurality"),
        "mL": c("mL", "UCUM", "milliliter"), "g": c("g", "UCUM", "gram"), "%": codes.UCUM.Percent,
        "ratio": codes.UCUM.NoUnits,
    }


def _group(hd, seg, segment_number: int, label: str, finding, measurements, finding_sites=None):
    return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=label),
        referenced_segment=hd.sr.ReferencedSegment.from_segmentation(seg, segment_number),
        finding_type=finding, measurements=measurements, finding_sites=finding_sites)


def build_dicom_sr(seg, sources, report: Dict[str, object]):
    """The Comprehensive 3D SR dataset for a report (report.json's keys), its DICOM SEG dataset and
    the SEG's source instances (the evidence every reference points into)."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    from . import labels as L

    k = _concepts()
    number = {s.SegmentLabel: int(s.SegmentNumber) for s in seg.SegmentSequence}
    m = hd.sr.Measurement
    v = report["volumes_ml"]

    def concept(seg_id):
        t = L.SEGMENTS[seg_id].type
        return hd.sr.CodedConcept(t[1], t[0], t[2])

    groups: List = [
        _group(hd, seg, number[L.SEGMENTS["myocardium"].name], "LV myocardium (whole wall)", concept("myocardium"),
               [m(k["volume"], float(v["lv_myocardium"]), k["mL"]), m(k["mass"], float(report["lv_mass_g"]), k["g"])]),
        _group(hd, seg, number[L.SEGMENTS["scar"].name], "Infarct (scar and MVO)", concept("scar"),
               [m(k["volume"], float(v["scar"]), k["mL"]), m(k["mass"], float(report["scar_mass_g"]), k["g"]),
                m(k["percent_lv"], float(report["scar_percent"]), k["%"])]
               + ([m(k["pv_volume"], float(report["infarct_pv_weighted"]["ml"]), k["mL"])]
                  if report.get("infarct_pv_weighted") else [])),
        _group(hd, seg, number[L.SEGMENTS["mvo"].name], "MVO", concept("mvo"), [m(k["volume"], float(v["mvo"]), k["mL"])]),
        _group(hd, seg, number[L.SEGMENTS["grayzone"].name], "Gray zone", concept("grayzone"),
               [m(k["volume"], float(v["grayzone"]), k["mL"]),
                m(k["percent_lv"], float(report["grayzone_percent"]), k["%"])]),
    ]
    for s in report.get("aha_segments", []):
        site = hd.sr.FindingSite(anatomic_location=getattr(codes.cid3717, AHA_CODES[int(s["segment"])]))
        groups.append(_group(hd, seg, number[L.SEGMENTS["scar"].name], f"AHA {s['segment']} {s['name']}", concept("scar"),
                             [m(k["percent_segment"], float(s["scar_percent"]), k["%"]),
                              m(k["transmurality_mean"], float(s["transmurality_mean"]), k["ratio"]),
                              m(k["transmurality_max"], float(s["transmurality_max"]), k["ratio"])],
                             finding_sites=[site]))
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name="LVScarSeg", manufacturer_name="LVScarSeg", model_name=f"LVScarSeg {__version__}"))
    content = hd.sr.MeasurementReport(observation_context=hd.sr.ObservationContext(observer_device_context=observer),
                                      procedure_reported=codes.cid100.ImagingProcedure, imaging_measurements=groups)
    return hd.sr.Comprehensive3DSR(
        evidence=[seg] + list(sources), content=content, series_instance_uid=hd.UID(), series_number=int(seg.SeriesNumber) + 1,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="LVScarSeg", is_complete=True,
        series_description="LVScarSeg LV scar measurements")


def write_dicom_sr(path, seg, sources, report: Dict[str, object]) -> Dict[str, object]:
    sr = build_dicom_sr(seg, sources, report)
    with atomic_output(path) as tmp:
        sr.save_as(str(tmp))
    return {"path": str(path), "sop_instance_uid": str(sr.SOPInstanceUID),
            "measurement_groups": 4 + len(report.get("aha_segments", []))}
