"""``lvscarseg demo``: a built-in phantom case, segmented end to end, with its measurements."""
from __future__ import annotations

from pathlib import Path

from .errors import InputError


def run_demo(out_dir, progress) -> int:
    from .labels import infarct, lv_myocardium
    from .metrics import compare_masks
    from .phantom.cases import make_case
    from .pipeline import segment
    from .report import summary_text
    from .segio import read_label_codes
    from .volume import write_volume

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    progress(0.05, "demo: making a phantom case (3D, 1.3 mm isotropic, one infarct)")
    image, codes, grid, meta = make_case(seed=2026, index=0, protocol="3d-iso", healthy=False, hard=False)
    image_path, truth_path = out / "phantom_lge.nrrd", out / "phantom_truth.nrrd"
    write_volume(image_path, image, grid)
    write_volume(truth_path, codes, grid)
    seg_path, report_path = out / "phantom_lge.seg.nrrd", out / "phantom_lge_report.json"
    from .methods.defaults import deep_learning_installed

    automatic = deep_learning_installed()  # fully automatic with PyTorch; else inside the true wall
    report = segment(str(image_path), str(seg_path), myocardium=None if automatic else str(truth_path),
                     report_path=str(report_path), progress=progress)
    pred, _ = read_label_codes(seg_path, grid, role="segmentation")
    m = compare_masks(infarct(pred), infarct(codes), grid.spacing)
    wall = compare_masks(lv_myocardium(pred), lv_myocardium(codes), grid.spacing)
    progress.done("demo finished")
    truth = meta["truth"]
    print(f"Phantom: {grid.describe()}, CNR {meta['cnr']:.1f}, true scar {truth['scar_ml']:.1f} mL "
          f"({truth['scar_percent']:.1f} % of LV myocardium)")
    if automatic:
        print(f"Fully automatic: myocardium {report['methods']['myocardium']['name']}, scar "
              f"{report['methods']['scar']['name']}")
    else:
        print(f"Scar method: {report['methods']['scar']['name']} inside the true myocardium (install PyTorch and "
              "MONAI for the fully automatic models)")
    print(summary_text(report))
    if automatic:
        print(f"Myocardium Dice against the phantom truth: {wall['dice']:.3f}  (HD95 {wall['hd95_mm']:.1f} mm)")
    print(f"Scar Dice against the phantom truth: {m['dice']:.3f}  (HD95 {m['hd95_mm']:.1f} mm)")
    print(f"segmentation: {seg_path.resolve()}")
    print(f"report:       {report_path.resolve()}")
    print(f"image:        {image_path.resolve()}  (open both in 3D Slicer)")
    return 0
