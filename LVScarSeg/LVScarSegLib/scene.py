"""The module's scene side: exporting the reader's nodes (never touching them or their storage),
importing results next to the volume, the tables. Plain functions on MRML nodes; no Qt, so the
tests run them on Slicer's real MRML (slicer-core). Points and images are in the volume's own
(local) frame: the engine sees the exported image, which a storage node writes without transforms.
"""
import contextlib
import logging
import os

import slicer
import vtk

from LVScarSegLib import paths

# Nodes the module made carry this attribute (result, consensus of <volume ID>, table <name>): only
# those are ever replaced or reused; a reader's node with the same name is left alone.
RESULT_ATTRIBUTE = "LVScarSeg.made"


def first_image_volume():
    """The first scalar volume that is an image (a labelmap is also a vtkMRMLScalarVolumeNode)."""
    for node in slicer.util.getNodesByClass("vtkMRMLScalarVolumeNode"):
        if not node.IsA("vtkMRMLLabelMapVolumeNode"):
            return node
    return None


def remove_nodes(*nodes):
    """Remove nodes with the display and storage nodes they brought (no orphans left behind);
    scene-wide singletons (default colour tables) stay."""
    scene = slicer.mrmlScene
    for node in nodes:
        if node is None or node.GetScene() is None:
            continue
        helpers = []
        if node.IsA("vtkMRMLDisplayableNode"):
            for i in range(node.GetNumberOfDisplayNodes()):
                display = node.GetNthDisplayNode(i)
                helpers.append(display)
                color = display.GetColorNode() if display and hasattr(display, "GetColorNode") else None
                if color is not None and not color.GetSingletonTag() and color.GetName() != "":
                    helpers.append(color)
        if node.IsA("vtkMRMLStorableNode"):
            helpers += [node.GetNthStorageNode(i) for i in range(node.GetNumberOfStorageNodes())]
        scene.RemoveNode(node)
        for helper in helpers:
            if helper is not None and helper.GetScene() is not None:
                scene.RemoveNode(helper)


def world_to_local(volume):
    """World (RAS) -> the volume's own (local) RAS: what the exported image is written in."""
    transform = vtk.vtkGeneralTransform()
    slicer.vtkMRMLTransformNode.GetTransformBetweenNodes(None, volume.GetParentTransformNode(), transform)
    return transform


def points_in_volume_frame(markups, volume):
    """Control points of a markups node in the volume's local RAS (markups and volume may each
    be under a transform; the engine sees the exported image, which is in local coordinates)."""
    if markups is None:
        return []
    toLocal = world_to_local(volume)
    out = []
    for i in range(markups.GetNumberOfControlPoints()):
        p = [0.0, 0.0, 0.0]
        markups.GetNthControlPointPositionWorld(i, p)
        out.append(list(toLocal.TransformPoint(p)))
    return out


def recognised_segments(segmentationNode):
    """IDs of the segments the engine recognises by ID or name (myocardium, scar, ...)."""
    from LVScarSegLogic import labels

    seg = segmentationNode.GetSegmentation()
    return [seg.GetNthSegmentID(i) for i in range(seg.GetNumberOfSegments())
            if seg.GetNthSegmentID(i) in labels.SEGMENTS or labels.segment_for_name(seg.GetNthSegment(i).GetName())]


def wall_segments(segmentationNode, segmentID=""):
    """{segment ID in the user's node: ID to write} of the reader's myocardium segmentation.
    Recognised segments go as they are, so an earlier result keeps its scar as wall; otherwise
    the chosen segment, or the only one, is the LV wall."""
    recognised = recognised_segments(segmentationNode)
    if recognised:
        return {i: i for i in recognised}
    seg = segmentationNode.GetSegmentation()
    if segmentID and seg.GetSegment(segmentID) is None:
        raise ValueError(f"{segmentationNode.GetName()} has no segment {segmentID!r}")
    if not segmentID and seg.GetNumberOfSegments() == 1:
        segmentID = seg.GetNthSegmentID(0)
    if not segmentID:
        raise ValueError(f"{segmentationNode.GetName()} has {seg.GetNumberOfSegments()} segments and none is named "
                         "myocardium, scar, MVO, gray zone or blood pool: choose the segment that is the LV wall")
    return {segmentID: "myocardium"}


def export_volume(volume, path):
    """Write the volume (its local geometry) with a storage node of our own: the user's node
    keeps its storage node and file name."""
    storage = slicer.vtkMRMLVolumeArchetypeStorageNode()
    storage.SetFileName(path)
    storage.SetUseCompression(0)
    if not storage.WriteData(volume):
        raise RuntimeError(f"could not export {volume.GetName()}")
    return path


@contextlib.contextmanager
def _binary_labelmap(segmentation, segmentIDs, volume):
    """A temporary labelmap node holding the union of the segments as 0/1 on the volume's grid, in
    the volume's local frame (not under its transform); removed, with its display nodes, afterwards."""
    labelmap = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "__LVScarSeg export__")
    try:
        ids = vtk.vtkStringArray()
        for segmentID in segmentIDs:
            ids.InsertNextValue(segmentID)
        if not slicer.modules.segmentations.logic().ExportSegmentsToLabelmapNode(
                segmentation, ids, labelmap, volume, slicer.vtkSegmentation.EXTENT_REFERENCE_GEOMETRY):
            raise RuntimeError(f"could not export {', '.join(segmentIDs)} of {segmentation.GetName()}")
        mask = slicer.util.arrayFromVolume(labelmap)
        if mask.shape != slicer.util.arrayFromVolume(volume).shape:
            raise RuntimeError(f"{segmentation.GetName()} did not export onto the volume grid")
        mask[...] = mask > 0  # the exported label value is the segment's index, not 1
        slicer.util.arrayFromVolumeModified(labelmap)
        # The labelmap comes on the volume's local grid, under the volume's transform; without it its
        # voxels are read in the local frame the engine sees (as the exported image).
        labelmap.SetAndObserveTransformNodeID(None)
        yield labelmap
    finally:
        remove_nodes(labelmap)


def export_segmentation(segmentation, volume, path, segmentIDs=None):
    """Write a .seg.nrrd of the segments {user's ID: written ID} (default: all, IDs kept),
    each resampled onto the volume's grid (and through any transform between the two). The
    written node is a new one outside the scene: no reference or storage node of the user's
    segmentation is copied or changed."""
    seg = segmentation.GetSegmentation()
    if segmentIDs is None:
        segmentIDs = {seg.GetNthSegmentID(i): seg.GetNthSegmentID(i) for i in range(seg.GetNumberOfSegments())}
    labelmapName = slicer.vtkSegmentationConverter.GetSegmentationBinaryLabelmapRepresentationName()
    out = slicer.vtkMRMLSegmentationNode()
    outSeg = out.GetSegmentation()
    # The writer pads to this geometry: the volume's own (local) one, as the exported image; the
    # node's SetReferenceImageGeometryParameterFromVolumeNode would harden the volume's transform.
    ijkToLocal = vtk.vtkMatrix4x4()
    volume.GetIJKToRASMatrix(ijkToLocal)
    converter = slicer.vtkSegmentationConverter
    outSeg.SetConversionParameter(converter.GetReferenceImageGeometryParameterName(),
                                  converter.SerializeImageGeometry(ijkToLocal, volume.GetImageData()))
    if hasattr(outSeg, "SetSourceRepresentationName"):  # Slicer >= 5.4; "Master" before
        outSeg.SetSourceRepresentationName(labelmapName)
    else:
        outSeg.SetMasterRepresentationName(labelmapName)
    for sourceID, writtenID in segmentIDs.items():
        with _binary_labelmap(segmentation, [sourceID], volume) as labelmap:
            image = slicer.vtkSlicerSegmentationsModuleLogic.CreateOrientedImageDataFromVolumeNode(labelmap)
        source = seg.GetSegment(sourceID)
        segment = slicer.vtkSegment()
        segment.SetName(source.GetName() if writtenID == sourceID else "LV myocardium")
        segment.SetColor(source.GetColor())
        segment.AddRepresentation(labelmapName, image)
        outSeg.AddSegment(segment, writtenID)
    storage = slicer.vtkMRMLSegmentationStorageNode()
    storage.SetFileName(path)
    storage.SetCropToMinimumExtent(False)  # the whole volume grid, as the image
    if not storage.WriteData(out):
        raise RuntimeError(f"could not export {segmentation.GetName()}")
    return path


def export_mask(segmentation, volume, path):
    """Write the union of all the segmentation's segments as a binary labelmap (0/1) on the
    volume's grid, in the volume's frame (a remote-myocardium region: any names, any number of
    segments)."""
    seg = segmentation.GetSegmentation()
    with _binary_labelmap(segmentation, [seg.GetNthSegmentID(i) for i in range(seg.GetNumberOfSegments())],
                          volume) as labelmap:
        storage = slicer.vtkMRMLVolumeArchetypeStorageNode()  # writes the local geometry, as export_volume
        storage.SetFileName(path)
        if not storage.WriteData(labelmap):
            raise RuntimeError(f"could not export {segmentation.GetName()}")
    return path


def load_result_segmentation(path, name, volume, kind="result"):
    """A new segmentation node read from the engine's file, placed with the volume: same
    transform, same subject-hierarchy folder, the volume as reference geometry; tagged with
    RESULT_ATTRIBUTE = ``kind``. It has no storage node (the job folder is deleted): saving the
    scene asks for a file as for any new node."""
    load_terminology()
    node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
    storage = slicer.vtkMRMLSegmentationStorageNode()
    storage.SetFileName(path)
    if not storage.ReadData(node):
        remove_nodes(node)
        raise RuntimeError(f"could not read {os.path.basename(path)}")
    node.SetName(name)
    node.SetAttribute(RESULT_ATTRIBUTE, kind)  # made by the module: the only nodes it ever replaces
    node.CreateDefaultDisplayNodes()
    # under the volume's transform first: the reference geometry is then the volume's own grid
    # (set before, the transform would be folded into it and applied a second time)
    node.SetAndObserveTransformNodeID(volume.GetTransformNodeID())
    node.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    node.SetNodeReferenceID(node.GetReferenceImageGeometryReferenceRole(), volume.GetID())
    shNode = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(slicer.mrmlScene)
    shNode.SetItemParent(shNode.GetItemByDataNode(node), shNode.GetItemParent(shNode.GetItemByDataNode(volume)))
    return node


def load_terminology():
    """Load this project's terminology context (Resources/Terminologies: Myocardium and the gray
    zone, which Slicer's default lists lack) into Slicer's terminology logic once, so the
    terminology selector shows every segment; the others name Slicer's DICOM master list."""
    from LVScarSegLogic import labels

    module = getattr(slicer.modules, "terminologies", None)
    if module is None:  # Slicer always has it; a bare scene may not: the segments keep their codes
        logging.warning("LVScarSeg: no Terminologies module; the myocardium's terminology is not loaded")
        return False
    logic = module.logic()
    loaded = vtk.vtkStringArray()
    logic.GetLoadedTerminologyNames(loaded)
    if labels.TERMINOLOGY_CONTEXT in [loaded.GetValue(i) for i in range(loaded.GetNumberOfValues())]:
        return True
    path = paths.resource_path(paths.MODULE_DIR, "Terminologies", "LVScarSeg.term.json")
    return bool(path and logic.LoadTerminologyFromFile(path))


def table_node(name, columns, rows):
    """A table node (found by name, or new) holding rows; columns: [(name, "string"|"double")]
    (numeric columns are numbers, so the table sorts and plots them)."""
    table = next((t for t in slicer.util.getNodesByClass("vtkMRMLTableNode")
                  if t.GetAttribute(RESULT_ATTRIBUTE) == f"table {name}"), None)  # the module's, not a namesake
    if table is None:
        table = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", name)
        table.SetAttribute(RESULT_ATTRIBUTE, f"table {name}")
    table.RemoveAllColumns()
    for column, kind in columns:
        array = vtk.vtkDoubleArray() if kind == "double" else vtk.vtkStringArray()
        array.SetName(column)
        table.AddColumn(array)
    vtable = table.GetTable()
    for row in rows:
        r = table.AddEmptyRow()
        for c, ((_, kind), value) in enumerate(zip(columns, row)):
            if kind == "double":
                vtable.GetColumn(c).SetValue(r, float("nan") if value is None else float(value))
            else:
                vtable.GetColumn(c).SetValue(r, str(value))
    table.Modified()
    return table


def measurements_table(report):
    """The table node "LVScarSeg measurements": the total and one row per AHA segment (numbers)."""
    columns = [("Segment", "string"), ("Name", "string"), ("Myocardium (mL)", "double"), ("Scar (mL)", "double"),
               ("Scar (%)", "double"), ("Transmurality mean", "double"), ("Transmurality max", "double")]
    rows = [["total", "LV myocardium", report["volumes_ml"]["lv_myocardium"], report["volumes_ml"]["scar"],
             report["scar_percent"], None, None]]
    rows += [[str(s["segment"]), s["name"], s["myocardium_ml"], s["scar_ml"], s["scar_percent"],
              s["transmurality_mean"], s["transmurality_max"]] for s in report.get("aha_segments", [])]
    return table_node("LVScarSeg measurements", columns, rows)


def show_comparison(volume, report, consensusPath):
    """The comparison in the scene: a table (one row per method, then the STAPLE consensus)
    and the consensus as a segmentation next to the volume."""
    columns = [("Method", "string"), ("Scar (mL)", "double"), ("Scar (%)", "double"), ("Seconds", "double")]
    rows = [[m["method"], m["scar_ml"], m["scar_percent"], m["seconds"]] for m in report["methods"]]
    c = report["consensus"]
    rows.append(["STAPLE consensus", c["scar_ml"], c["scar_percent"], None])
    table = table_node("LVScarSeg method comparison", columns, rows)
    consensus = None
    if os.path.exists(consensusPath):
        kind = f"consensus of {volume.GetID()}"  # the module's earlier consensus for this volume
        for old in slicer.util.getNodesByClass("vtkMRMLSegmentationNode"):
            if old.GetAttribute(RESULT_ATTRIBUTE) == kind:
                remove_nodes(old)
        consensus = load_result_segmentation(consensusPath, f"{volume.GetName()} scar consensus (STAPLE)", volume,
                                             kind)
    return table, consensus


def dicom_source_files(volume):
    """The DICOM files a volume was loaded from (Slicer's DICOM module records their instance UIDs
    on the node; the DICOM database knows the files), or [] for a volume from another format."""
    uids = (volume.GetAttribute("DICOM.instanceUIDs") or "").split()
    database = getattr(slicer, "dicomDatabase", None)
    if not uids or database is None:
        return []
    files = [database.fileForInstance(uid) for uid in uids]
    return files if all(f and os.path.isfile(f) for f in files) else []


def link_dicom_source(files, folder):
    """A folder of the source files (links, or copies where links are not allowed) for the engine."""
    import shutil

    os.makedirs(folder, exist_ok=True)
    for i, f in enumerate(files):
        target = os.path.join(folder, f"{i:05d}.dcm")
        try:
            os.symlink(f, target)
        except OSError:
            shutil.copyfile(f, target)
    return folder
