"""The module's Slicer-side logic: the parameter node, exporting the inputs, running the engine
in a background QProcess (progress, Cancel), importing the result segmentation and the
measurements table, installing dependencies on first use. The widget (LVScarSeg.py) drives it;
the self-test runs it without a GUI. Unlike the other LVScarSegLib files this one needs Slicer.
"""
import json
import logging
import os
import shutil
import sys
import tempfile
from typing import Annotated, Optional

import qt
import slicer
import vtk
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleLogic
from slicer.parameterNodeWrapper import Choice, parameterNodeWrapper

from LVScarSegLib import command, paths

# This file is <module dir>/LVScarSegLib/logic.py; the engine sits beside the module (source
# tree: a sibling folder; installed: copied next to LVScarSeg.py).
MODULE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGINE_ROOT = paths.engine_root(MODULE_DIR)
if ENGINE_ROOT and ENGINE_ROOT not in sys.path:
    sys.path.insert(0, ENGINE_ROOT)


# What the engine needs in Slicer's Python (import name -> pip requirement). torch comes from the
# PyTorch extension (PyTorchUtils), never from pip directly.
ENGINE_REQUIREMENTS = {"numpy": "numpy>=1.21", "scipy": "scipy>=1.7", "SimpleITK": "SimpleITK>=2.2",
                       "sklearn": "scikit-learn>=1.0", "skimage": "scikit-image>=0.19", "maxflow": "PyMaxflow>=1.2.13",
                       "safetensors": "safetensors>=0.4", "nrrd": "pynrrd>=1.0", "slicerio": "slicerio>=1.4",
                       "matplotlib": "matplotlib>=3.5", "PIL": "pillow>=9"}
DL_REQUIREMENTS = {"monai": "monai>=1.3"}
# Nodes the module made carry this attribute (result, consensus of <volume ID>, table <name>): only
# those are ever replaced or reused; a reader's node with the same name is left alone.
RESULT_ATTRIBUTE = "LVScarSeg.made"


@parameterNodeWrapper
class LVScarSegParameterNode:
    inputVolume: slicer.vtkMRMLScalarVolumeNode
    myocardiumSegmentation: Optional[slicer.vtkMRMLSegmentationNode] = None
    seeds: Optional[slicer.vtkMRMLMarkupsFiducialNode] = None
    remoteSegmentation: Optional[slicer.vtkMRMLSegmentationNode] = None
    rvInsertion: Optional[slicer.vtkMRMLMarkupsFiducialNode] = None
    lvCenter: Optional[slicer.vtkMRMLMarkupsFiducialNode] = None  # a point in the LV cavity: skips localization
    outputSegmentation: Optional[slicer.vtkMRMLSegmentationNode] = None
    device: Annotated[str, Choice(["auto", "cpu", "cuda"])] = "auto"
    models: Annotated[str, Choice(["best", "permissive"])] = "best"  # the engine's --models
    replacePrevious: bool = True
    # set from code (combo boxes filled from the registry, generated parameter widgets)
    myocardiumSegmentID: str = ""
    myocardiumMethod: str = ""
    scarMethod: str = ""
    methodParams: str = "{}"  # JSON: {method key: {param: value}}


class LVScarSegModuleLogic(ScriptedLoadableModuleLogic):
    """Exports inputs, runs the engine in a QProcess, imports the results. Named ...ModuleLogic
    because ``LVScarSegLogic`` is the engine package."""

    def __init__(self):
        ScriptedLoadableModuleLogic.__init__(self)
        self.moduleName = "LVScarSeg"  # the base class would derive "LVScarSegModule" from the class name
        self.process = None
        self._cancelled = False
        self._stderrTail = ""
        self.progressCallback = lambda percent, message: None
        self.finishedCallback = lambda ok, message, report, bullseye, text: None
        self._job = None
        self.loadTerminology()

    def getParameterNode(self):
        return LVScarSegParameterNode(super().getParameterNode())

    @staticmethod
    def python():
        return shutil.which("PythonSlicer") or sys.executable

    def methods(self):
        from LVScarSegLogic.methods import registry

        defaults = {t: registry.default_method(t) for t in ("scar", "myocardium")}
        return [m.to_json(default=defaults.get(m.target) == m.name) for m in registry.methods()]

    # -- dependencies (asked for on Apply, never at import) --------------------------------------
    def ensureDependencies(self, deepLearning=False):
        import importlib.util

        missing = [req for mod, req in ENGINE_REQUIREMENTS.items() if importlib.util.find_spec(mod) is None]
        if deepLearning:
            missing += [req for mod, req in DL_REQUIREMENTS.items() if importlib.util.find_spec(mod) is None]
        needTorch = deepLearning and importlib.util.find_spec("torch") is None
        if not missing and not needTorch:
            return True
        text = "LVScarSeg needs these Python packages: " + ", ".join(missing + (["torch (PyTorch extension)"] if needTorch else []))
        if not slicer.util.confirmOkCancelDisplay(text + "\n\nInstall them now? (a few minutes; no restart needed unless told)"):
            return False
        if needTorch:
            try:
                import PyTorchUtils
            except ImportError:
                raise RuntimeError("Deep-learning methods need the PyTorch extension: install it from the Extensions "
                                   "Manager and restart Slicer, or choose a classical scar method and give a myocardium.")
            if PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=False) is None:
                raise RuntimeError("PyTorch could not be installed; choose a classical method (they run without it).")
        if missing:
            slicer.util.pip_install(" ".join(missing))
        return True

    # -- jobs --------------------------------------------------------------------------------
    def isRunning(self):
        return self.process is not None and self.process.state() != qt.QProcess.NotRunning

    def _newJobFolder(self):
        return tempfile.mkdtemp(prefix="LVScarSeg-", dir=slicer.app.temporaryPath)

    # -- scene helpers ------------------------------------------------------------------------
    @staticmethod
    def firstImageVolume():
        """The first scalar volume that is an image (a labelmap is also a vtkMRMLScalarVolumeNode)."""
        for node in slicer.util.getNodesByClass("vtkMRMLScalarVolumeNode"):
            if not node.IsA("vtkMRMLLabelMapVolumeNode"):
                return node
        return None

    @staticmethod
    def _removeNodes(*nodes):
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

    @staticmethod
    def _worldToLocal(volume):
        """World (RAS) -> the volume's own (local) RAS: what the exported image is written in."""
        transform = vtk.vtkGeneralTransform()
        slicer.vtkMRMLTransformNode.GetTransformBetweenNodes(None, volume.GetParentTransformNode(), transform)
        return transform

    def _points(self, markups, volume):
        """Control points of a markups node in the volume's local RAS (markups and volume may each
        be under a transform; the engine sees the exported image, which is in local coordinates)."""
        if markups is None:
            return []
        toLocal = self._worldToLocal(volume)
        out = []
        for i in range(markups.GetNumberOfControlPoints()):
            p = [0.0, 0.0, 0.0]
            markups.GetNthControlPointPositionWorld(i, p)
            out.append(list(toLocal.TransformPoint(p)))
        return out

    @staticmethod
    def _recognisedSegments(segmentationNode):
        """IDs of the segments the engine recognises by ID or name (myocardium, scar, ...)."""
        from LVScarSegLogic import labels

        seg = segmentationNode.GetSegmentation()
        return [seg.GetNthSegmentID(i) for i in range(seg.GetNumberOfSegments())
                if seg.GetNthSegmentID(i) in labels.SEGMENTS or labels.segment_for_name(seg.GetNthSegment(i).GetName())]

    def wallSegments(self, segmentationNode, segmentID=""):
        """{segment ID in the user's node: ID to write} of the reader's myocardium segmentation.
        Recognised segments go as they are, so an earlier result keeps its scar as wall; otherwise
        the chosen segment, or the only one, is the LV wall."""
        recognised = self._recognisedSegments(segmentationNode)
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

    def problem(self, p, myocardiumMethod=None):
        """Why Apply cannot run with these parameters (one sentence), or None."""
        if not p or not p.inputVolume:
            return "Select the LGE volume."
        if p.inputVolume.IsA("vtkMRMLLabelMapVolumeNode"):
            return f"{p.inputVolume.GetName()} is a label map: select the LGE image."
        if p.inputVolume.GetImageData() is None:
            return f"{p.inputVolume.GetName()} has no image data."
        if p.myocardiumSegmentation:
            try:
                self.wallSegments(p.myocardiumSegmentation, p.myocardiumSegmentID)
            except ValueError as exc:
                return str(exc)
        elif not myocardiumMethod:
            return "Select a myocardium segmentation or a myocardium model."
        return None

    # -- export and import (the user's nodes and their storage nodes are never touched) ----------
    @staticmethod
    def exportVolume(volume, path):
        """Write the volume (its local geometry) with a storage node of our own: the user's node
        keeps its storage node and file name."""
        storage = slicer.vtkMRMLVolumeArchetypeStorageNode()
        storage.SetFileName(path)
        storage.SetUseCompression(0)
        if not storage.WriteData(volume):
            raise RuntimeError(f"could not export {volume.GetName()}")
        return path

    def exportSegmentation(self, segmentation, volume, path, segmentIDs=None):
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
        logic = slicer.modules.segmentations.logic()
        for sourceID, writtenID in segmentIDs.items():
            labelmap = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "__LVScarSeg export__")
            try:
                ids = vtk.vtkStringArray()
                ids.InsertNextValue(sourceID)
                if not logic.ExportSegmentsToLabelmapNode(segmentation, ids, labelmap, volume,
                                                          slicer.vtkSegmentation.EXTENT_REFERENCE_GEOMETRY):
                    raise RuntimeError(f"could not export segment {sourceID} of {segmentation.GetName()}")
                mask = slicer.util.arrayFromVolume(labelmap)
                if mask.shape != slicer.util.arrayFromVolume(volume).shape:
                    raise RuntimeError(f"segment {sourceID} of {segmentation.GetName()} did not export onto the volume grid")
                mask[...] = mask > 0  # the exported label value is the segment's index, not 1
                slicer.util.arrayFromVolumeModified(labelmap)
                # The labelmap comes on the volume's local grid, under the volume's transform; without it
                # its voxels are read in the local frame the engine sees (as the exported image).
                labelmap.SetAndObserveTransformNodeID(None)
                image = slicer.vtkSlicerSegmentationsModuleLogic.CreateOrientedImageDataFromVolumeNode(labelmap)
            finally:
                self._removeNodes(labelmap)
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

    def exportMask(self, segmentation, volume, path):
        """Write the union of all the segmentation's segments as a binary labelmap (0/1) on the
        volume's grid, in the volume's frame (a remote-myocardium region: any names, any number of
        segments)."""
        labelmap = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "__LVScarSeg export__")
        try:
            seg = segmentation.GetSegmentation()
            ids = vtk.vtkStringArray()
            for i in range(seg.GetNumberOfSegments()):
                ids.InsertNextValue(seg.GetNthSegmentID(i))
            if not slicer.modules.segmentations.logic().ExportSegmentsToLabelmapNode(
                    segmentation, ids, labelmap, volume, slicer.vtkSegmentation.EXTENT_REFERENCE_GEOMETRY):
                raise RuntimeError(f"could not export {segmentation.GetName()}")
            mask = slicer.util.arrayFromVolume(labelmap)
            mask[...] = mask > 0
            slicer.util.arrayFromVolumeModified(labelmap)
            storage = slicer.vtkMRMLVolumeArchetypeStorageNode()  # writes the local geometry, as exportVolume
            storage.SetFileName(path)
            if not storage.WriteData(labelmap):
                raise RuntimeError(f"could not export {segmentation.GetName()}")
        finally:
            self._removeNodes(labelmap)
        return path

    def loadResultSegmentation(self, path, name, volume, kind="result"):
        """A new segmentation node read from the engine's file, placed with the volume: same
        transform, same subject-hierarchy folder, the volume as reference geometry; tagged with
        RESULT_ATTRIBUTE = ``kind``. It has no storage node (the job folder is deleted): saving the
        scene asks for a file as for any new node."""
        self.loadTerminology()
        node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
        storage = slicer.vtkMRMLSegmentationStorageNode()
        storage.SetFileName(path)
        if not storage.ReadData(node):
            self._removeNodes(node)
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

    def loadTerminology(self):
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
        path = paths.resource_path(MODULE_DIR, "Terminologies", "LVScarSeg.term.json")
        return bool(path and logic.LoadTerminologyFromFile(path))

    def startSegmentation(self, p, myocardiumMethod, scarMethod, paramValues):
        problem = self.problem(p, myocardiumMethod)
        if problem:
            raise ValueError(problem)
        folder = self._newJobFolder()
        try:
            volume = p.inputVolume
            image = self.exportVolume(volume, os.path.join(folder, "image.nrrd"))
            myocardium = None
            if p.myocardiumSegmentation:
                myocardium = self.exportSegmentation(p.myocardiumSegmentation, volume, os.path.join(folder, "myocardium.seg.nrrd"),
                                                     self.wallSegments(p.myocardiumSegmentation, p.myocardiumSegmentID))
            remote = (self.exportMask(p.remoteSegmentation, volume, os.path.join(folder, "remote.nrrd"))
                      if p.remoteSegmentation else None)
            params = {}
            for key, values in paramValues.items():
                params.update(values)
            cmd = command.segment_command(
                self.python(), image, os.path.join(folder, "result.seg.nrrd"), os.path.join(folder, "report.json"),
                myocardium=myocardium, myocardium_method=myocardiumMethod, scar_method=scarMethod, params=params,
                seeds_ras=self._points(p.seeds, volume), rv_insertion_ras=self._points(p.rvInsertion, volume),
                remote=remote, device=p.device, bullseye=os.path.join(folder, "bullseye.png"),
                lv_center_ras=(self._points(p.lvCenter, volume) or [None])[0], models=p.models)
            names = {image: volume.GetName()}
            names.update({myocardium: p.myocardiumSegmentation.GetName()} if myocardium else {})
            names.update({remote: p.remoteSegmentation.GetName()} if remote else {})
            self._start(cmd, {"kind": "segment", "folder": folder, "parameterNode": p, "names": names})
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def _startOnResult(self, p, kind, makeCommand):
        if not (p.inputVolume and p.outputSegmentation):
            raise ValueError("Run Apply first: there is no result segmentation to measure.")
        folder = self._newJobFolder()
        try:
            image = self.exportVolume(p.inputVolume, os.path.join(folder, "image.nrrd"))
            seg = self.exportSegmentation(p.outputSegmentation, p.inputVolume, os.path.join(folder, "current.seg.nrrd"))
            self._start(makeCommand(folder, image, seg), {"kind": kind, "folder": folder, "parameterNode": p})
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def startMeasure(self, p):
        self._startOnResult(p, "measure", lambda folder, image, seg: command.measure_command(
            self.python(), image, seg, os.path.join(folder, "report.json"), self._points(p.rvInsertion, p.inputVolume),
            os.path.join(folder, "bullseye.png")))

    def startCompare(self, p, methods):
        self._startOnResult(p, "compare", lambda folder, image, seg: command.compare_command(
            self.python(), image, seg, methods, os.path.join(folder, "compare.json"),
            os.path.join(folder, "consensus.seg.nrrd"), p.device, p.models))

    def _start(self, cmd, job):
        if self.isRunning():
            raise RuntimeError("a run is in progress")
        self._job = job
        self._stderr = ""
        self._stderrTail = ""
        self._cancelled = False
        # parented to the application: Python must not delete it while it sends its own signals
        self.process = qt.QProcess(slicer.app)
        env = qt.QProcessEnvironment.systemEnvironment()
        if ENGINE_ROOT:
            env.insert("PYTHONPATH", os.pathsep.join([ENGINE_ROOT] + ([env.value("PYTHONPATH")] if env.contains("PYTHONPATH") else [])))
        if job["parameterNode"].device == "cpu":
            env.insert("CUDA_VISIBLE_DEVICES", "-1")
        self.process.setProcessEnvironment(env)
        self.process.connect("readyReadStandardError()", self._onStderr)
        self.process.connect("finished(int,QProcess::ExitStatus)", self._onFinished)
        logging.info("LVScarSeg: " + " ".join(cmd))
        self.process.start(cmd[0], cmd[1:])
        if not self.process.waitForStarted(10000):
            reason = self.process.errorString()
            self.process.deleteLater()
            self.process, self._job = None, None
            raise RuntimeError(f"could not start {cmd[0]}: {reason}")

    def _onStderr(self):
        text = self.process.readAllStandardError().data().decode("utf-8", "replace")
        self._stderr += text
        lines = (self._stderrTail + text).split("\n")
        self._stderrTail = lines.pop()  # a line can arrive in pieces: keep the unfinished end
        for line in lines:
            parsed = command.parse_progress(line)
            if parsed:
                self.progressCallback(*parsed)

    def cancel(self):
        """Stop the running engine: SIGTERM lets it remove its temporary files (exit 143).
        PythonSlicer is a launcher whose child is the real Python, so the whole tree is signalled."""
        if not self.isRunning():
            return
        self._cancelled = True
        children = []
        try:
            import psutil

            children = psutil.Process(int(self.process.processId())).children(recursive=True)
            for child in children:
                child.terminate()
        except Exception:  # psutil missing or the process just ended: the launcher gets the signal
            pass
        self.process.terminate()
        if not self.process.waitForFinished(5000):
            for child in children:
                try:
                    child.kill()
                except Exception:
                    pass
            self.process.kill()
            self.process.waitForFinished(2000)

    def _onFinished(self, exitCode, exitStatus):
        job, self._job = self._job, None
        if job is None:
            return
        stdout = self.process.readAllStandardOutput().data().decode("utf-8", "replace")
        self._onStderr()
        process, self.process = self.process, None
        process.deleteLater()
        folder = job["folder"]
        try:
            if self._cancelled:
                self.finishedCallback(False, "cancelled", None, None, stdout)
                return
            # exit 3: the result is written but its quality verdict is "failed": it is loaded and shown as such
            if exitStatus != qt.QProcess.NormalExit or exitCode not in (0, 3):  # exitCode means nothing after a crash
                code = exitCode if exitStatus == qt.QProcess.NormalExit else -1
                message = command.error_message(self._stderr, code)
                for path, name in job.get("names", {}).items():  # the user's node, not the deleted job file
                    message = message.replace(path, name)
                self.finishedCallback(False, message, None, None, stdout)
                return
            p = job["parameterNode"]
            if job["kind"] == "compare":
                with open(os.path.join(folder, "compare.json")) as f:
                    report = json.load(f)
                self.showComparison(p, report, os.path.join(folder, "consensus.seg.nrrd"))
                self.finishedCallback(True, "Comparison finished.", report, None, stdout)
                return
            with open(os.path.join(folder, "report.json")) as f:
                report = json.load(f)
            if job["kind"] == "segment":
                self.importResult(p, os.path.join(folder, "result.seg.nrrd"), report)
            self.updateTable(p, report)
            verdict = report.get("quality", {}).get("status", "ok")
            self.finishedCallback(True, "Done." if verdict == "ok" else f"Done - quality {verdict.upper()}.", report,
                                  os.path.join(folder, "bullseye.png"), stdout)
        except Exception as exc:  # shown to the user with the log, never only in the console
            self.finishedCallback(False, f"could not load the result: {exc}", None, None, stdout)
        finally:  # the callbacks have loaded what they need (nodes, the bull's-eye pixmap)
            shutil.rmtree(folder, ignore_errors=True)

    # -- results -----------------------------------------------------------------------------
    def importResult(self, p, segPath, report):
        volume = p.inputVolume
        node = self.loadResultSegmentation(segPath, f"{volume.GetName()} LV scar ({report['methods']['scar']['name']})", volume)
        node.CreateClosedSurfaceRepresentation()
        previous = p.outputSegmentation
        # only a result this module made is replaced, never a reader's segmentation or an input
        if (p.replacePrevious and previous is not None and previous.GetAttribute(RESULT_ATTRIBUTE) == "result"
                and previous not in (p.myocardiumSegmentation, p.remoteSegmentation)):
            self._removeNodes(previous)
        p.outputSegmentation = node
        return node

    @staticmethod
    def _table(name, columns, rows):
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

    def updateTable(self, p, report):
        columns = [("Segment", "string"), ("Name", "string"), ("Myocardium (mL)", "double"), ("Scar (mL)", "double"),
                   ("Scar (%)", "double"), ("Transmurality mean", "double"), ("Transmurality max", "double")]
        rows = [["total", "LV myocardium", report["volumes_ml"]["lv_myocardium"], report["volumes_ml"]["scar"],
                 report["scar_percent"], None, None]]
        rows += [[str(s["segment"]), s["name"], s["myocardium_ml"], s["scar_ml"], s["scar_percent"],
                  s["transmurality_mean"], s["transmurality_max"]] for s in report.get("aha_segments", [])]
        return self._table("LVScarSeg measurements", columns, rows)

    def showComparison(self, p, report, consensusPath):
        """The comparison in the scene: a table (one row per method, then the STAPLE consensus)
        and the consensus as a segmentation next to the volume."""
        columns = [("Method", "string"), ("Scar (mL)", "double"), ("Scar (%)", "double"), ("Seconds", "double")]
        rows = [[m["method"], m["scar_ml"], m["scar_percent"], m["seconds"]] for m in report["methods"]]
        c = report["consensus"]
        rows.append(["STAPLE consensus", c["scar_ml"], c["scar_percent"], None])
        table = self._table("LVScarSeg method comparison", columns, rows)
        consensus = None
        if os.path.exists(consensusPath):
            kind = f"consensus of {p.inputVolume.GetID()}"  # the module's earlier consensus for this volume
            for old in slicer.util.getNodesByClass("vtkMRMLSegmentationNode"):
                if old.GetAttribute(RESULT_ATTRIBUTE) == kind:
                    self._removeNodes(old)
            consensus = self.loadResultSegmentation(consensusPath, f"{p.inputVolume.GetName()} scar consensus (STAPLE)",
                                                    p.inputVolume, kind)
        return table, consensus
