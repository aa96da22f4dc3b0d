"""The Slicer module's logic against Slicer's real MRML (slicer-core): exports leave the user's
nodes, storage nodes and files as they were; a job runs through the real engine; the result comes
back on the volume's grid, under its transform and in its subject-hierarchy folder, with segments
whose terminology Slicer's terminology logic resolves; tables are numeric; Compare shows its
results; Cancel and errors leave nothing behind; the module's own self-test passes.
Qt is replaced by the stand-ins in slicer_standins.py (each says what it replaces)."""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time

import numpy as np
import pytest

from conftest import ROOT

pytest.importorskip("slicer_core", reason="slicer-core (Slicer's MRML on PyPI) is installed for Python >= 3.10 only")

import slicer_standins  # noqa: E402  (after the skip: it imports slicer-core)

ENV = slicer_standins.install()
sys.path.insert(0, str(ROOT / "LVScarSeg"))
import slicer  # noqa: E402
import vtk  # noqa: E402

from LVScarSegLib import command  # noqa: E402
from LVScarSegLib import scene as module_scene  # noqa: E402  (the fixture `scene` is the MRML scene)
from LVScarSegLib.logic import LVScarSegModuleLogic  # noqa: E402
from LVScarSegLogic import labels  # noqa: E402
from LVScarSegLogic.phantom.cases import make_case  # noqa: E402
from LVScarSegLogic.segio import read_labels_native, write_segmentation  # noqa: E402
from LVScarSegLogic.volume import read_volume, write_volume  # noqa: E402


@pytest.fixture()
def scene():
    ENV.reset()
    yield slicer.mrmlScene
    ENV.reset()


@pytest.fixture(scope="module")
def case_files(tmp_path_factory):
    """A small phantom (image, the truth as a reader's named segmentation) written once."""
    folder = tmp_path_factory.mktemp("mrml-case")
    image, codes, grid, meta = make_case(7, 0, "3d-lowres", healthy=False, hard=False)
    write_volume(str(folder / "image.nrrd"), image, grid)
    write_segmentation(str(folder / "truth.seg.nrrd"), codes, grid)
    return folder, codes


def _sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _load_user_data(case_files):
    folder, codes = case_files
    volume = slicer.util.loadVolume(str(folder / "image.nrrd"))
    truth = slicer.util.loadSegmentation(str(folder / "truth.seg.nrrd"))
    return volume, truth, codes


def _orphans(scene):
    """Display and storage nodes no node refers to."""
    helpers, used = set(), set()
    for i in range(scene.GetNumberOfNodes()):
        node = scene.GetNthNode(i)
        if node.IsA("vtkMRMLDisplayNode") or node.IsA("vtkMRMLStorageNode"):
            helpers.add(node.GetID())
        if node.IsA("vtkMRMLDisplayableNode"):
            used |= {node.GetNthDisplayNodeID(k) for k in range(node.GetNumberOfDisplayNodes())}
        if node.IsA("vtkMRMLStorableNode"):
            used |= {node.GetNthStorageNodeID(k) for k in range(node.GetNumberOfStorageNodes())}
    return sorted(helpers - used)


def _run(logic, start, timeout_s=300):
    done = {}
    logic.finishedCallback = lambda ok, message, report, bullseye, text: done.update(ok=ok, message=message,
                                                                                      report=report, text=text)
    progress = []
    logic.progressCallback = lambda percent, message: progress.append(percent)
    start()
    deadline = time.time() + timeout_s
    while logic.isRunning():
        logic.runner.wait(100)
        slicer.app.processEvents()
        assert time.time() < deadline, "the engine did not finish"
    slicer.app.processEvents()
    done["progress"] = progress
    return done


def _segment_ids(node):
    seg = node.GetSegmentation()
    return [seg.GetNthSegmentID(i) for i in range(seg.GetNumberOfSegments())]


# (category, type) codes of Slicer's "DICOM master list" context that segments name, as in Slicer's
# Modules/Loadable/Terminologies/Resources/SegmentationCategoryTypeModifier-DICOM-Master.json (read at
# Slicer commit 583e9b37; slicer-core does not ship the file, so it cannot be loaded here).
DICOM_MASTER_TYPES = {("85756007", "87612001"), ("85756007", "12402003"), ("49755003", "6574001")}


def _resolves(entryText):
    """The entry's category and type are in the context it names: this project's context as loaded
    into Slicer's terminology logic, or the DICOM master list's codes above."""
    if entryText.startswith(labels.DICOM_MASTER_CONTEXT + "~"):
        parts = entryText.split("~")
        return (parts[1].split("^")[1], parts[2].split("^")[1]) in DICOM_MASTER_TYPES
    return _in_terminology(labels.TERMINOLOGY_CONTEXT, entryText)


def _in_terminology(context, entryText):
    """True when the entry's category and type are in the loaded context named by the entry."""
    logic = slicer.modules.terminologies.logic()
    entry = slicer.vtkSlicerTerminologyEntry()
    if not logic.DeserializeTerminologyEntry(entryText, entry) or entry.GetTerminologyContextName() != context:
        return False
    category = entry.GetCategoryObject()
    for i in range(logic.GetNumberOfCategoriesInTerminology(context)):
        c = slicer.vtkSlicerTerminologyCategory()
        logic.GetNthCategoryInTerminology(context, i, c)
        if (c.GetCodingSchemeDesignator(), c.GetCodeValue()) != (category.GetCodingSchemeDesignator(), category.GetCodeValue()):
            continue
        for j in range(logic.GetNumberOfTypesInTerminologyCategory(context, c)):
            t = slicer.vtkSlicerTerminologyType()
            logic.GetNthTypeInTerminologyCategory(context, c, j, t)
            if (t.GetCodingSchemeDesignator(), t.GetCodeValue()) == (entry.GetTypeObject().GetCodingSchemeDesignator(),
                                                                    entry.GetTypeObject().GetCodeValue()):
                return True
    return False


def test_parameter_node_defaults_and_what_apply_needs(scene, case_files):
    logic = LVScarSegModuleLogic()
    p = logic.getParameterNode()
    assert (p.device, p.models, p.replacePrevious, p.methodParams) == ("auto", "best", True, "{}")
    assert logic.getParameterNode().parameterNode is p.parameterNode  # one node per scene, as in Slicer
    with pytest.raises(ValueError):
        p.device = "gpu"
    assert logic.isValid(p) == (False, "Select the LGE volume.")
    label = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "a label map")  # first in the scene
    label.SetAndObserveImageData(vtk.vtkImageData())
    volume, truth, codes = _load_user_data(case_files)
    assert module_scene.first_image_volume() is volume  # a label map is a vtkMRMLScalarVolumeNode too: skipped
    p.inputVolume = label
    assert "label map" in logic.isValid(p, "cmpunet")[1]
    p.inputVolume = volume
    assert logic.isValid(p) == (False, "Select a myocardium segmentation or a myocardium model.")
    assert logic.isValid(p, "cmpunet") == (True, "")
    drawn = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "drawn")
    first = drawn.GetSegmentation().AddEmptySegment("", "Segment_1")
    p.myocardiumSegmentation = drawn
    assert logic.isValid(p) == (True, "")  # the only segment is the wall
    assert module_scene.wall_segments(drawn) == {first: "myocardium"}
    second = drawn.GetSegmentation().AddEmptySegment("", "Segment_2")
    assert "choose the segment" in logic.isValid(p)[1]
    p.myocardiumSegmentID = second
    assert logic.isValid(p)[0] and module_scene.wall_segments(drawn, second) == {second: "myocardium"}
    p.myocardiumSegmentID = "no such segment"
    assert "no segment" in logic.isValid(p)[1]
    assert set(module_scene.wall_segments(truth)) == {"myocardium", "scar", "bloodpool", "mvo", "grayzone"} & set(_segment_ids(truth))


def test_exports_leave_the_users_nodes_storage_and_files_as_they_were(scene, case_files, tmp_path):
    volume, truth, codes = _load_user_data(case_files)
    files = {n: n.GetStorageNode().GetFileName() for n in (volume, truth)}
    hashes = {n: _sha(f) for n, f in files.items()}
    references = truth.GetNodeReferenceID(truth.GetReferenceImageGeometryReferenceRole())
    count = scene.GetNumberOfNodes()
    logic = LVScarSegModuleLogic()
    count = scene.GetNumberOfNodes()
    image = module_scene.export_volume(volume, str(tmp_path / "image.nrrd"))
    seg = module_scene.export_segmentation(truth, volume, str(tmp_path / "seg.seg.nrrd"))
    for node, path in files.items():
        assert node.GetStorageNode().GetFileName() == path and _sha(path) == hashes[node]
    assert truth.GetNodeReferenceID(truth.GetReferenceImageGeometryReferenceRole()) == references
    assert scene.GetNumberOfNodes() == count and not _orphans(scene)
    written, original = read_volume(image), read_volume(str(case_files[0] / "image.nrrd"))
    assert written.grid.differences(original.grid) == "the same grid"
    np.testing.assert_array_equal(written.array, original.array)
    back, grid = read_labels_native(seg)
    assert grid.differences(original.grid) == "the same grid"
    np.testing.assert_array_equal(back, codes)
    # What slicer.util.saveNode would have done (the old export): the user's storage node moves.
    slicer.util.saveNode(volume, str(tmp_path / "moved.nrrd"))
    assert volume.GetStorageNode().GetFileName() != files[volume]


def test_a_segmentation_drawn_on_another_grid_is_exported_on_the_volumes(scene, case_files, tmp_path):
    volume, truth, codes = _load_user_data(case_files)
    original = read_volume(str(case_files[0] / "image.nrrd"))
    # the reader drew the wall on a grid twice as fine, shifted by half a (new) voxel
    fine = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "fine")
    array = slicer.util.arrayFromVolume(volume)
    fine_array = np.repeat(np.repeat(np.repeat(array, 2, 0), 2, 1), 2, 2)
    slicer.util.updateVolumeFromArray(fine, fine_array)
    ijk = vtk.vtkMatrix4x4()
    volume.GetIJKToRASMatrix(ijk)
    m = slicer.util.arrayFromVTKMatrix(ijk)
    fine_m = m.copy()
    fine_m[:3, :3] = m[:3, :3] / 2
    fine_m[:3, 3] = m[:3, 3] - (m[:3, :3] @ np.array([0.25, 0.25, 0.25]))
    fine.SetIJKToRASMatrix(slicer.util.vtkMatrixFromArray(fine_m))
    drawn = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "drawn on the fine grid")
    drawn.SetReferenceImageGeometryParameterFromVolumeNode(fine)
    wall = labels.lv_myocardium(codes)
    fine_wall = np.repeat(np.repeat(np.repeat(wall, 2, 0), 2, 1), 2, 2).astype(np.uint8)
    sid = drawn.GetSegmentation().AddEmptySegment("", "wall")
    slicer.util.updateSegmentBinaryLabelmapFromArray(fine_wall, drawn, sid, fine)
    logic = LVScarSegModuleLogic()
    path = module_scene.export_segmentation(drawn, volume, str(tmp_path / "wall.seg.nrrd"), module_scene.wall_segments(drawn))
    back, grid = read_labels_native(path)
    assert grid.differences(original.grid) == "the same grid"  # the volume's grid, not the one it was drawn on
    np.testing.assert_array_equal(labels.lv_myocardium(back), wall)


def test_a_job_round_trip_edit_and_remeasure_without_orphans(scene, case_files):
    volume, truth, codes = _load_user_data(case_files)
    sh = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    study = sh.CreateFolderItem(sh.CreateFolderItem(sh.GetSceneItemID(), "patient"), "LGE study")
    sh.SetItemParent(sh.GetItemByDataNode(volume), study)
    logic = LVScarSegModuleLogic()
    p = logic.getParameterNode()
    p.inputVolume, p.myocardiumSegmentation, p.device = volume, truth, "cpu"
    userFiles = {n.GetID(): n.GetStorageNode().GetFileName() for n in (volume, truth)}
    before = {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())}
    done = _run(logic, lambda: logic.startSegmentation(p, None, "strm", {}))
    assert done["ok"], done["message"]
    first = p.outputSegmentation
    done = _run(logic, lambda: logic.startSegmentation(p, None, "strm", {}))
    assert done["ok"], done["message"]
    result, report = p.outputSegmentation, done["report"]
    assert result is not first and first.GetScene() is None  # replaced
    assert done["progress"] and done["progress"] == sorted(done["progress"])
    # Apply, Apply: what was added is the result, its display node and the table
    # (checked before this test's own slicer.util array calls, which leave display nodes behind)
    table = scene.GetFirstNodeByName("LVScarSeg measurements")
    assert not _orphans(scene)
    added = {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())} - before
    assert added == {result.GetID(), result.GetDisplayNode().GetID(), table.GetID()}, \
        [scene.GetNodeByID(i).GetClassName() for i in added]
    # grid, IDs, names, colours, voxels
    ids = _segment_ids(result)
    assert {"myocardium", "scar"} <= set(ids)
    for sid in ids:
        segment, definition = result.GetSegmentation().GetSegment(sid), labels.SEGMENTS[sid]
        assert segment.GetName() == definition.name
        np.testing.assert_allclose(segment.GetColor(), definition.color, atol=1e-3)
        entry = segment.GetTerminology()
        assert _resolves(entry), (sid, entry)
    wall = sum(slicer.util.arrayFromSegmentBinaryLabelmap(result, s, volume) for s in ids if s != "bloodpool") > 0
    np.testing.assert_array_equal(wall, labels.lv_myocardium(codes))  # the reader's wall, voxel for voxel
    scar = slicer.util.arrayFromSegmentBinaryLabelmap(result, "scar", volume)
    assert scar.shape == slicer.util.arrayFromVolume(volume).shape and scar.sum() > 0
    # where it sits: no storage node on a deleted file, the volume's folder, the volume as reference
    assert result.GetStorageNode() is None
    assert sh.GetItemParent(sh.GetItemByDataNode(result)) == study
    assert result.GetNodeReference(result.GetReferenceImageGeometryReferenceRole()) is volume
    # the measurements table: numbers, one row per AHA segment and the total
    table = scene.GetFirstNodeByName("LVScarSeg measurements")
    assert table.GetNumberOfRows() == 1 + len(report["aha_segments"])
    assert table.GetColumnType("Scar (%)") == vtk.VTK_DOUBLE and table.GetColumnType("Name") == vtk.VTK_STRING
    assert table.GetTable().GetValueByName(0, "Scar (%)").ToDouble() == pytest.approx(report["scar_percent"])
    # edit, then Update measurements sees less scar
    scar[: scar.shape[0] // 2] = 0
    slicer.util.updateSegmentBinaryLabelmapFromArray(scar, result, "scar", volume)
    edited_nodes = {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())}
    edited = _run(logic, lambda: logic.startMeasure(p))
    assert edited["ok"], edited["message"]
    assert edited["report"]["volumes_ml"]["scar"] < report["volumes_ml"]["scar"]
    assert {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())} == edited_nodes  # nothing more
    # the user's files are where they were; no job folder is left
    for nodeID, path in userFiles.items():
        assert scene.GetNodeByID(nodeID).GetStorageNode().GetFileName() == path
    assert not [f for f in os.listdir(slicer.app.temporaryPath) if f.startswith("LVScarSeg-")]


def test_a_volume_under_a_transform(scene, case_files):
    volume, truth, codes = _load_user_data(case_files)
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "moved")
    rotate = vtk.vtkTransform()
    rotate.Translate(17.0, -9.0, 4.0)
    rotate.RotateZ(25.0)
    transform.SetMatrixTransformToParent(rotate.GetMatrix())
    volume.SetAndObserveTransformNodeID(transform.GetID())
    truth.SetAndObserveTransformNodeID(transform.GetID())
    logic = LVScarSegModuleLogic()
    # a point placed on voxel (i, j, k) in the views (world) must reach the engine as that voxel
    ijkToLocal = vtk.vtkMatrix4x4()
    volume.GetIJKToRASMatrix(ijkToLocal)
    local = ijkToLocal.MultiplyPoint((10, 12, 3, 1))[:3]
    world = rotate.TransformPoint(local)
    point = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "seed")
    point.AddControlPointWorld(vtk.vtkVector3d(*world))
    np.testing.assert_allclose(module_scene.points_in_volume_frame(point, volume)[0], local, atol=1e-6)
    p = logic.getParameterNode()
    p.inputVolume, p.myocardiumSegmentation, p.device = volume, truth, "cpu"
    done = _run(logic, lambda: logic.startSegmentation(p, None, "strm", {}))
    assert done["ok"], done["message"]
    result = p.outputSegmentation
    assert result.GetTransformNodeID() == transform.GetID()
    # the Segment Editor's grid: the volume's own, not one with the transform folded in once more
    geometry, extent = vtk.vtkMatrix4x4(), [0] * 6
    converter = slicer.vtkSegmentationConverter
    assert converter.DeserializeImageGeometry(result.GetSegmentation().GetConversionParameter(
        converter.GetReferenceImageGeometryParameterName()), geometry, extent)
    np.testing.assert_allclose(slicer.util.arrayFromVTKMatrix(geometry), slicer.util.arrayFromVTKMatrix(ijkToLocal),
                               atol=1e-4)
    ids = [s for s in _segment_ids(result) if s != "bloodpool"]
    wall = sum(slicer.util.arrayFromSegmentBinaryLabelmap(result, s, volume) for s in ids) > 0
    np.testing.assert_array_equal(wall, labels.lv_myocardium(codes))


def test_compare_shows_its_table_and_the_consensus(scene, case_files):
    volume, truth, codes = _load_user_data(case_files)
    logic = LVScarSegModuleLogic()
    p = logic.getParameterNode()
    p.inputVolume, p.myocardiumSegmentation, p.device = volume, truth, "cpu"
    assert _run(logic, lambda: logic.startSegmentation(p, None, "strm", {}))["ok"]
    done = _run(logic, lambda: logic.startCompare(p, ["strm", "fwhm"]))
    assert done["ok"], done["message"]
    table = scene.GetFirstNodeByName("LVScarSeg method comparison")
    assert table is not None and table.GetNumberOfRows() == 3
    assert table.GetColumnType("Scar (%)") == vtk.VTK_DOUBLE
    assert [table.GetCellText(r, 0) for r in range(3)] == ["strm", "fwhm", "STAPLE consensus"]
    consensus = [n for n in slicer.util.getNodesByClass("vtkMRMLSegmentationNode") if "consensus" in n.GetName()]
    assert len(consensus) == 1
    ids = _segment_ids(consensus[0])
    assert "scar" in ids
    shape = slicer.util.arrayFromSegmentBinaryLabelmap(consensus[0], "scar", volume).shape
    assert shape == slicer.util.arrayFromVolume(volume).shape
    rows = command.report_rows(done["report"])
    assert rows[-2][0] == "STAPLE consensus" and not command.lv_in_doubt(done["report"])


def test_cancel_and_errors_leave_nothing_behind(scene, case_files):
    volume, truth, codes = _load_user_data(case_files)
    logic = LVScarSegModuleLogic()
    p = logic.getParameterNode()
    p.inputVolume, p.myocardiumSegmentation, p.device = volume, truth, "cpu"
    count = scene.GetNumberOfNodes()
    done = _run(logic, lambda: logic.startSegmentation(p, None, "strm", {"scar": {"no_such_parameter": 1}}))
    assert not done["ok"] and "\n" not in done["message"] and "no_such_parameter" in done["message"]
    assert scene.GetNumberOfNodes() == count and p.outputSegmentation is None
    with pytest.raises(ValueError):  # Compare without a result: refused before anything is exported
        logic.startCompare(p, ["strm", "fwhm"])
    state = {}
    logic.finishedCallback = lambda ok, message, report, bullseye, text: state.update(ok=ok, message=message)

    def cancelOnFirstProgress(percent, message):  # Cancel as soon as the engine reports progress
        if not state.get("cancel"):
            state["cancel"] = 1
            logic.cancel()
    logic.progressCallback = cancelOnFirstProgress
    logic.startSegmentation(p, None, "otsu", {})
    deadline = time.time() + 120
    while logic.isRunning() and time.time() < deadline:
        logic.runner.wait(100)
        slicer.app.processEvents()
    slicer.app.processEvents()
    assert state.get("cancel") and state == {"cancel": 1, "ok": False, "message": "cancelled"}
    assert scene.GetNumberOfNodes() == count and p.outputSegmentation is None
    assert not [f for f in os.listdir(slicer.app.temporaryPath) if f.startswith("LVScarSeg-")]


def test_the_terminology_file_is_the_engines_segments():
    path = ROOT / "Resources" / "Terminologies" / "LVScarSeg.term.json"
    assert json.loads(path.read_text()) == labels.terminology_context()
    logic = slicer.modules.terminologies.logic()
    LVScarSegModuleLogic()  # loads it
    import slicerio.segmentation as sio

    for s in labels.SEGMENTS.values():
        assert _resolves(sio.terminology_entry_to_string(s.terminology())), s.id
    assert {s.id for s in labels.SEGMENTS.values() if s.context == labels.TERMINOLOGY_CONTEXT} == {"myocardium", "grayzone"}
    general = "Segmentation category and type - 3D Slicer General Anatomy list"  # what segments named before
    assert not _resolves(sio.terminology_entry_to_string(
        dict(labels.SEGMENTS["myocardium"].terminology(), contextName=general)))
    assert not _resolves(sio.terminology_entry_to_string(
        dict(labels.SEGMENTS["myocardium"].terminology(), contextName=labels.DICOM_MASTER_CONTEXT)))
    assert logic is slicer.modules.terminologies.logic()


def test_the_modules_own_self_test(scene):
    import LVScarSeg as module

    test = module.LVScarSegTest()
    test.runTest()
    # it ran: the self-test's own result (n-SD in the phantom's wall) is in the scene
    assert [n for n in slicer.util.getNodesByClass("vtkMRMLSegmentationNode") if n.GetName().endswith("LV scar (strm)")]


def test_slicer_draws_the_result_in_its_slice_and_3d_views(case_files, tmp_path):
    """scripts/render_slicer_views.py (the README's pictures): Slicer's slice logic and segmentation
    displayable managers draw the scar over the image; run in a subprocess (it needs offscreen OpenGL)."""
    import subprocess

    from PIL import Image

    folder, codes = case_files
    out = tmp_path / "views"
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "render_slicer_views.py"), str(folder / "image.nrrd"),
                          str(folder / "truth.seg.nrrd"), "-o", str(out), "--views"], capture_output=True, text=True,
                         timeout=300)
    if run.returncode != 0 and ("GL" in run.stderr or "display" in run.stderr.lower()) and not out.with_suffix(".png").exists():
        pytest.skip(f"no offscreen OpenGL here: {run.stderr.strip().splitlines()[-1][:200]}")
    assert run.returncode == 0, run.stderr[-2000:]
    red = np.asarray(Image.open(f"{out}_red.png").convert("RGB")).astype(int)
    scar_rgb = np.round(np.array(labels.SEGMENTS["scar"].color) * 255).astype(int)
    outline = np.all(np.abs(red - scar_rgb) <= 2, axis=-1)
    assert outline.sum() > 50  # the scar's outline, in its colour, drawn by Slicer
    assert red[~outline].std() > 10  # and the image under it, not a blank view
    three_d = np.asarray(Image.open(f"{out}_3d.png").convert("RGB")).astype(int)
    assert len(np.unique(three_d.reshape(-1, 3), axis=0)) > 100  # shaded surfaces, not an empty background
    montage = Image.open(out.with_suffix(".png"))
    assert montage.width == 3 * Image.open(f"{out}_red.png").width


def test_the_readers_nodes_are_never_replaced_and_any_remote_region_is_taken(scene, case_files):
    volume, truth, codes = _load_user_data(case_files)
    logic = LVScarSegModuleLogic()
    p = logic.getParameterNode()
    p.inputVolume, p.myocardiumSegmentation, p.device = volume, truth, "cpu"
    # the reader's own segmentation picked as the output, "replace previous" on: it stays
    drawn = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "drawn")
    drawn.GetSegmentation().AddEmptySegment("", "my notes")
    p.outputSegmentation, p.replacePrevious = drawn, True
    # a remote region drawn as the reader likes it: any name, two segments
    remote = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "remote ROI")
    remote.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    wall = labels.lv_myocardium(codes)
    healthy = (codes == labels.MYOCARDIUM) & (np.arange(codes.shape[0])[:, None, None] < codes.shape[0] // 2)
    for name, half in (("remote", healthy & (np.arange(codes.shape[2]) < codes.shape[2] // 2)),
                       ("Segment_2", healthy & (np.arange(codes.shape[2]) >= codes.shape[2] // 2))):
        sid = remote.GetSegmentation().AddEmptySegment("", name)
        slicer.util.updateSegmentBinaryLabelmapFromArray(half.astype(np.uint8), remote, sid, volume)
    p.remoteSegmentation = remote
    # namesakes of the module's table and consensus, made by the reader
    table = scene.AddNewNodeByClass("vtkMRMLTableNode", "LVScarSeg measurements")
    namesake = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", f"{volume.GetName()} scar consensus (STAPLE)")
    done = _run(logic, lambda: logic.startSegmentation(p, None, "strm", {}))
    assert done["ok"], done["message"]
    assert drawn.GetScene() is scene and remote.GetScene() is scene and p.outputSegmentation is not drawn
    assert "remote" in done["report"]["inputs"]  # taken, with its two unnamed segments
    assert table.GetNumberOfColumns() == 0  # the module wrote its own table, not the reader's
    ours = [t for t in slicer.util.getNodesByClass("vtkMRMLTableNode") if t is not table]
    assert len(ours) == 1 and ours[0].GetNumberOfRows() > 0
    assert _run(logic, lambda: logic.startCompare(p, ["strm", "otsu"]))["ok"]
    assert _run(logic, lambda: logic.startCompare(p, ["strm", "otsu"]))["ok"]
    consensus = [n for n in slicer.util.getNodesByClass("vtkMRMLSegmentationNode") if "consensus" in n.GetName()]
    assert namesake in consensus and len(consensus) == 2  # the reader's namesake and one of the module's
    # an engine error names the reader's node, not the deleted job file
    broken = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "empty wall")
    broken.GetSegmentation().AddEmptySegment("", "wall")
    p.myocardiumSegmentation = broken
    done = _run(logic, lambda: logic.startSegmentation(p, None, "strm", {}))
    assert not done["ok"] and "empty wall" in done["message"] and "LVScarSeg-" not in done["message"], done["message"]


def test_a_volume_from_dicom_gets_its_dicom_seg_and_sr_into_the_database(scene, tmp_path):
    pytest.importorskip("highdicom")
    import pydicom

    from LVScarSegLogic import dicomio

    image, codes, grid, meta = make_case(11, 0, "2d-stack", healthy=False, hard=False)
    files = dicomio.write_series(tmp_path / "dcm", image, grid, series_number=7, description="LGE")
    write_volume(str(tmp_path / "lge.nrrd"), read_volume(str(tmp_path / "dcm")).array, grid)
    write_segmentation(str(tmp_path / "truth.seg.nrrd"), codes, grid)
    volume = slicer.util.loadVolume(str(tmp_path / "lge.nrrd"))  # as Slicer's DICOM plugin leaves it:
    uids = [pydicom.dcmread(str(f), stop_before_pixels=True).SOPInstanceUID for f in files]
    volume.SetAttribute("DICOM.instanceUIDs", " ".join(uids))  # the instances on the node, the files in the database
    slicer.dicomDatabase.instances.update({u: str(f) for u, f in zip(uids, files)})
    logic = LVScarSegModuleLogic()
    p = logic.getParameterNode()
    p.inputVolume, p.myocardiumSegmentation, p.device = volume, slicer.util.loadSegmentation(str(tmp_path / "truth.seg.nrrd")), "cpu"
    p.writeDicom = True
    assert logic.isValid(p) == (True, "")
    done = _run(logic, lambda: logic.startSegmentation(p, None, "strm", {}))
    assert done["ok"], done["message"]
    kept = sorted(slicer.dicomDatabase.inserted)
    assert len(kept) == 2 and "added to the DICOM database" in done["text"]
    seg, sr = (pydicom.dcmread(f) for f in kept)
    assert seg.Modality == "SEG" and sr.Modality == "SR"
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == pydicom.dcmread(str(files[0])).SeriesInstanceUID
    assert len(seg.SegmentSequence) == 5
    other = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "from NRRD")
    other.SetAndObserveImageData(volume.GetImageData())
    p.inputVolume = other
    ok, why = logic.isValid(p)
    assert not ok and "DICOM" in why
