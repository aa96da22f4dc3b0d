"""Pictures of a result drawn by 3D Slicer itself: its slice logic reslices the image, its
segmentation displayable managers draw the segments (2D fill and outline, 3D surfaces), offscreen.

Needs slicer-core (``pip install slicer-core``: Slicer's MRML, logics and displayable managers,
without Qt) and an offscreen OpenGL (EGL or OSMesa, as in VTK's wheels).

    python scripts/render_slicer_views.py IMAGE SEGMENTATION -o OUT_PREFIX
    python scripts/render_slicer_views.py --demo -o Resources/Media/slicer_phantom
    python scripts/render_slicer_views.py --emidec Case_P077 -o Resources/Media/slicer_emidec

writes OUT_PREFIX.png, three views side by side: the red and green slice views on the image's own
axes through the scar's centre (for a short-axis stack the red one is the acquired short-axis
plane), and the 3D view of the segments' surfaces seen from the scar's side (``--views`` keeps
them as OUT_PREFIX_red.png, _green.png and _3d.png too). A result whose quality verdict is not
"ok" carries the verdict as a red band, as the engine's own pictures do.
``--demo`` first runs ``lvscarseg demo`` (the built-in phantom, segmented fully automatically);
``--emidec CASE`` segments that real EMIDEC exam fully automatically with the default models
(../shared/data/emidec-png; data and models CC BY-NC-SA) and prints the Dice against its labels.
The README's pictures are made with these two.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZE = 480  # pixels, each view


def _scene():
    """A scene with the application logic and the logics the displays need (colour tables,
    segmentations, volumes); the logics are returned so they live as long as the scene."""
    import slicer

    scene = slicer.vtkMRMLScene()
    app = slicer.vtkSlicerApplicationLogic()
    app.SetMRMLScene(scene)
    logics = [app]
    for name in ("vtkSlicerColorLogic", "vtkSlicerSegmentationsModuleLogic", "vtkSlicerVolumesLogic"):
        logic = getattr(slicer, name)()
        logic.SetMRMLApplicationLogic(app)
        logic.SetMRMLScene(scene)
        logics.append(logic)
    return scene, app, logics


def _load(scene, node_class, storage_class, path):
    import slicer

    node = scene.AddNewNodeByClass(node_class, Path(path).name.split(".")[0])
    storage = getattr(slicer, storage_class)()
    storage.SetFileName(str(path))
    if not storage.ReadData(node):
        raise SystemExit(f"render_slicer_views: could not read {path}")
    node.CreateDefaultDisplayNodes()
    return node


def _window(renderer):
    import vtk

    window = vtk.vtkRenderWindow()
    window.SetOffScreenRendering(1)
    window.SetSize(SIZE, SIZE)
    window.AddRenderer(renderer)
    interactor = vtk.vtkRenderWindowInteractor()  # the displayable managers observe it (never started)
    interactor.SetRenderWindow(window)
    return window


def _save(window, path):
    import vtk

    window.Render()
    grab = vtk.vtkWindowToImageFilter()
    grab.SetInput(window)
    grab.Update()
    writer = vtk.vtkPNGWriter()
    writer.SetFileName(str(path))
    writer.SetInputConnection(grab.GetOutputPort())
    writer.Write()


def _manager_group(factory_class, managers, app, renderer, view_node):
    import slicer

    factory = getattr(slicer, factory_class).GetInstance()
    factory.SetMRMLApplicationLogic(app)
    for name in managers:
        if not factory.IsDisplayableManagerRegistered(name):
            factory.RegisterDisplayableManager(name)
    group = slicer.vtkMRMLDisplayableManagerGroup()
    group.Initialize(factory, renderer)
    group.SetMRMLDisplayableNode(view_node)
    return group


def slice_view(scene, app, volume, layout_name, orientation, centre_ras, fov_mm, path):
    """One slice view: the volume resliced on its own axes (``orientation`` picks which pair),
    through ``centre_ras``, ``fov_mm`` wide, with the segmentations drawn by
    vtkMRMLSegmentationsDisplayableManager2D."""
    import slicer
    import vtk

    # as in Slicer's slice view: the resliced image in the bottom layer, the displayable managers'
    # actors (segment fill and outline) in a layer above it, blended over the image
    image_layer, renderer = vtk.vtkRenderer(), vtk.vtkRenderer()
    renderer.GetActiveCamera().ParallelProjectionOn()
    window = _window(image_layer)
    window.SetNumberOfLayers(2)
    window.SetAlphaBitPlanes(1)
    renderer.SetLayer(1)
    window.AddRenderer(renderer)
    logic = slicer.vtkMRMLSliceLogic()
    logic.SetMRMLApplicationLogic(app)
    logic.SetMRMLScene(scene)
    node = logic.AddSliceNode(layout_name)
    node.SetOrientation(orientation)
    group = _manager_group("vtkMRMLSliceViewDisplayableManagerFactory", ["vtkMRMLSegmentationsDisplayableManager2D"],
                           app, renderer, node)
    logic.GetSliceCompositeNode().SetBackgroundVolumeID(volume.GetID())
    logic.ResizeSliceNode(SIZE, SIZE)
    logic.RotateSliceToLowestVolumeAxes(False)  # the image's own planes (short axis for a short-axis stack)
    logic.FitSliceToBackground()
    node.SetFieldOfView(fov_mm, fov_mm, node.GetFieldOfView()[2])
    node.JumpSliceByCentering(*centre_ras)
    logic.SnapSliceOffsetToIJK()
    # what Slicer's slice widget does with the slice logic's output: one 2D image actor behind the overlays
    mapper = vtk.vtkImageMapper()
    mapper.SetColorWindow(255)
    mapper.SetColorLevel(127.5)
    mapper.SetInputConnection(logic.GetImageDataConnection())
    actor = vtk.vtkActor2D()
    actor.SetMapper(mapper)
    image_layer.AddViewProp(actor)
    _save(window, path)
    return group, logic


def threed_view(scene, app, segmentation, centres, path):
    """The segments' closed surfaces drawn by vtkMRMLSegmentationsDisplayableManager3D, seen from
    the scar's side (``centres``: RAS of the LV and of the scar)."""
    import vtk

    renderer = vtk.vtkRenderer()
    renderer.SetBackground(0.76, 0.76, 0.9)
    renderer.SetBackground2(0.1, 0.1, 0.2)
    renderer.GradientBackgroundOn()
    window = _window(renderer)
    view = scene.AddNewNodeByClass("vtkMRMLViewNode")
    view.SetLayoutName("1")
    segmentation.CreateClosedSurfaceRepresentation()
    display = segmentation.GetDisplayNode()
    display.SetSegmentOpacity3D("bloodpool", 0.0) if segmentation.GetSegmentation().GetSegment("bloodpool") else None
    display.SetSegmentOpacity3D("myocardium", 0.35) if segmentation.GetSegmentation().GetSegment("myocardium") else None
    group = _manager_group("vtkMRMLThreeDViewDisplayableManagerFactory", ["vtkMRMLSegmentationsDisplayableManager3D"],
                           app, renderer, view)
    lv, scar = (np.asarray(c, dtype=float) for c in centres)
    outward = scar - lv if np.linalg.norm(scar - lv) > 1e-3 else np.array([0.0, -1.0, 0.0])
    camera = renderer.GetActiveCamera()
    camera.SetFocalPoint(*lv)
    camera.SetPosition(*(lv + 400.0 * outward / np.linalg.norm(outward)))
    camera.SetViewUp(0.0, 0.0, 1.0) if abs(outward[2]) < 0.9 * np.linalg.norm(outward) else camera.SetViewUp(0.0, 1.0, 0.0)
    renderer.ResetCamera()
    camera.Zoom(1.4)
    renderer.ResetCameraClippingRange()
    _save(window, path)
    return group


def centres_ras(seg_path):
    """RAS centres (mm) of the LV (wall and cavity) and of the scar (the wall's when there is none),
    and the LV's largest extent (mm)."""
    from LVScarSegLogic import labels
    from LVScarSegLogic.segio import read_labels_native

    codes, grid = read_labels_native(seg_path)

    def centre(mask):
        k, j, i = np.argwhere(mask).mean(axis=0)
        return (grid.ijk_to_ras @ np.array([i, j, k, 1.0]))[:3]
    lv = centre(codes > 0)
    scar = labels.infarct(codes)
    k, j, i = np.argwhere(codes > 0).T
    points = (grid.ijk_to_ras @ np.stack([i, j, k, np.ones_like(i)]).astype(float))[:3]
    span = float(np.max(points.max(axis=1) - points.min(axis=1)))
    return lv, centre(scar) if scar.any() else lv, span


def render(image_path, seg_path, out_prefix):
    scene, app, keep = _scene()
    volume = _load(scene, "vtkMRMLScalarVolumeNode", "vtkMRMLVolumeArchetypeStorageNode", image_path)
    segmentation = _load(scene, "vtkMRMLSegmentationNode", "vtkMRMLSegmentationStorageNode", seg_path)
    display = segmentation.GetDisplayNode()
    display.SetOpacity2DFill(0.3)
    if segmentation.GetSegmentation().GetSegment("myocardium"):  # the wall as an outline: its image stays visible
        display.SetSegmentOpacity2DFill("myocardium", 0.0)
    image = volume.GetDisplayNode()  # window/level from the image's 1st-99.5th percentiles, not its full range
    import slicer.util

    voxels = slicer.util.arrayFromVolume(volume)
    low, high = np.percentile(voxels[voxels > voxels.min()], [1.0, 99.5])
    image.AutoWindowLevelOff()
    image.SetWindowLevelMinMax(float(low), float(high))  # the image stays readable under the fill; outlines stay opaque
    display.SetSegmentVisibility("bloodpool", False) if segmentation.GetSegmentation().GetSegment("bloodpool") else None
    centres = centres_ras(seg_path)
    out = Path(out_prefix)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for layout, orientation in (("Red", "Axial"), ("Green", "Coronal")):
        path = out.with_name(f"{out.name}_{layout.lower()}.png")
        keep.append(slice_view(scene, app, volume, layout, orientation, centres[1], 2.0 * centres[2], path))
        written.append(path)
    display.SetSegmentVisibility("bloodpool", True) if segmentation.GetSegmentation().GetSegment("bloodpool") else None
    path = out.with_name(f"{out.name}_3d.png")
    keep.append(threed_view(scene, app, segmentation, centres[:2], path))
    written.append(path)
    return written


def montage(paths, out_path, banner=""):
    """The views side by side in one PNG (what the README shows); ``banner``: the engine's verdict
    line for a result it cannot vouch for (quality.banner), drawn as a red band on top."""
    from PIL import Image, ImageDraw

    views = [Image.open(p).convert("RGB") for p in paths]
    band = 28 if banner else 0
    strip = Image.new("RGB", (sum(v.width for v in views), max(v.height for v in views) + band), "#c00000")
    x = 0
    for v in views:
        strip.paste(v, (x, band))
        x += v.width
    if banner:
        ImageDraw.Draw(strip).text((10, 8), banner[:200], fill="white")
    strip.save(out_path, optimize=True)
    return out_path


def segment_emidec(name, emidec_dir, folder):
    """Write the EMIDEC exam as a volume, segment it fully automatically (``lvscarseg segment``,
    default models) and print the Dice of the wall and the infarct against the exam's labels."""
    from LVScarSegLogic import labels
    from LVScarSegLogic.datasets import find_cases, load_case
    from LVScarSegLogic.metrics import compare_masks
    from LVScarSegLogic.segio import read_label_codes
    from LVScarSegLogic.volume import write_volume

    case = next((c for c in find_cases(emidec_dir) if c.name == name), None)
    if case is None:
        raise SystemExit(f"render_slicer_views: no EMIDEC exam {name} in {emidec_dir}")
    image, codes, grid = load_case(case)
    folder.mkdir(parents=True, exist_ok=True)
    image_path, seg_path = folder / f"{name}.nrrd", folder / f"{name}.seg.nrrd"
    write_volume(str(image_path), image, grid)
    subprocess.run([sys.executable, "-m", "LVScarSegLogic", "--quiet", "segment", str(image_path), "-o", str(seg_path),
                    "--report", str(folder / f"{name}_report.json")],
                   check=False, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    pred, _ = read_label_codes(seg_path, grid, role="segmentation", allow_empty=True)
    wall = compare_masks(labels.lv_myocardium(pred), labels.lv_myocardium(codes), grid.spacing)["dice"]
    scar = compare_masks(labels.infarct(pred), labels.infarct(codes), grid.spacing)["dice"]
    print(f"{name}: fully automatic, myocardium Dice {wall:.3f}, infarct Dice {scar:.3f} against the EMIDEC labels")
    return image_path, seg_path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("image", nargs="?", help="the LGE image (.nrrd, .nii.gz, ...)")
    ap.add_argument("segmentation", nargs="?", help="the result .seg.nrrd (lvscarseg segment -o ...)")
    ap.add_argument("--demo", action="store_true", help="render lvscarseg demo's phantom result (runs the demo)")
    ap.add_argument("--emidec", metavar="CASE", help="segment this EMIDEC exam (e.g. Case_P077) and render it")
    ap.add_argument("--emidec-dir", default=str(ROOT.parent / "shared" / "data" / "emidec-png"))
    ap.add_argument("-o", "--out", required=True, help="output prefix, e.g. Resources/Media/slicer")
    ap.add_argument("--report", help="the result's report.json (default: SEGMENTATION's name with _report.json): "
                    "a verdict other than ok is drawn as a red band")
    ap.add_argument("--views", action="store_true", help="keep the three views as separate PNGs too")
    a = ap.parse_args(argv)
    if a.demo:
        folder = ROOT / "build" / "slicer-views-demo"
        subprocess.run([sys.executable, "-m", "LVScarSegLogic", "--quiet", "demo", str(folder)], check=True,
                       cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        a.image, a.segmentation = folder / "phantom_lge.nrrd", folder / "phantom_lge.seg.nrrd"
    if a.emidec:
        a.image, a.segmentation = segment_emidec(a.emidec, a.emidec_dir, ROOT / "build" / "slicer-views-emidec")
    if not (a.image and a.segmentation):
        ap.error("give IMAGE and SEGMENTATION, or --demo")
    views = render(a.image, a.segmentation, a.out)
    banner = ""
    report = a.report or (str(a.segmentation).replace(".seg.nrrd", "_report.json"))
    if os.path.exists(report):
        import json

        from LVScarSegLogic.quality import banner as quality_banner

        with open(report) as f:
            banner = quality_banner(json.load(f).get("quality"))
    print(montage(views, Path(a.out).with_suffix(".png"), banner))
    if not a.views:
        for path in views:
            path.unlink()


if __name__ == "__main__":
    main()
