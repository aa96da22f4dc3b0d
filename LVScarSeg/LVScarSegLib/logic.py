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

    @staticmethod
    def _points(markups):
        if markups is None:
            return []
        out = []
        for i in range(markups.GetNumberOfControlPoints()):
            p = [0.0, 0.0, 0.0]
            markups.GetNthControlPointPositionWorld(i, p)
            out.append(p)
        return out

    @staticmethod
    def _hasNamedSegments(segmentationNode):
        from LVScarSegLogic import labels

        seg = segmentationNode.GetSegmentation()
        for i in range(seg.GetNumberOfSegments()):
            segment = seg.GetNthSegment(i)
            if seg.GetNthSegmentID(i) in labels.SEGMENTS or labels.segment_for_name(segment.GetName()):
                return True
        return False

    def _exportVolume(self, volume, folder):
        path = os.path.join(folder, "image.nrrd")
        if not slicer.util.saveNode(volume, path, {"useCompression": False}):
            raise RuntimeError(f"could not export {volume.GetName()}")
        return path

    def _exportSegmentation(self, segmentation, volume, folder, name, segmentID=""):
        """A .seg.nrrd of the segmentation on the volume's geometry (or a binary labelmap of one segment)."""
        if segmentID:
            labelmap = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode")
            try:
                ids = vtk.vtkStringArray()
                ids.InsertNextValue(segmentID)
                path = os.path.join(folder, f"{name}.nrrd")
                ok = slicer.modules.segmentations.logic().ExportSegmentsToLabelmapNode(segmentation, ids, labelmap, volume)
                if not ok or not slicer.util.saveNode(labelmap, path):
                    raise RuntimeError(f"could not export segment {segmentID} of {segmentation.GetName()}")
            finally:
                slicer.mrmlScene.RemoveNode(labelmap)
            return path
        # A copy on the volume's geometry: the user's node (and its Segment Editor geometry) stays as it is.
        copy = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode")
        try:
            copy.Copy(segmentation)
            copy.SetReferenceImageGeometryParameterFromVolumeNode(volume)
            copy.CreateBinaryLabelmapRepresentation()
            labelmapName = slicer.vtkSegmentationConverter.GetSegmentationBinaryLabelmapRepresentationName()
            seg = copy.GetSegmentation()
            if hasattr(seg, "SetSourceRepresentationName"):  # Slicer >= 5.4; "Master" before
                seg.SetSourceRepresentationName(labelmapName)
            else:
                seg.SetMasterRepresentationName(labelmapName)
            path = os.path.join(folder, f"{name}.seg.nrrd")
            if not slicer.util.saveNode(copy, path):
                raise RuntimeError(f"could not export {segmentation.GetName()}")
        finally:
            slicer.mrmlScene.RemoveNode(copy)
        return path

    def startSegmentation(self, p, myocardiumMethod, scarMethod, paramValues):
        folder = self._newJobFolder()
        image = self._exportVolume(p.inputVolume, folder)
        myocardium = None
        if p.myocardiumSegmentation:
            # Segments the engine recognises by ID or name (myocardium, scar, ...) go as they are, so an
            # earlier result keeps its scar as wall; otherwise the chosen segment is the LV wall.
            segmentID = "" if self._hasNamedSegments(p.myocardiumSegmentation) else p.myocardiumSegmentID
            myocardium = self._exportSegmentation(p.myocardiumSegmentation, p.inputVolume, folder, "myocardium",
                                                  segmentID)
        remote = (self._exportSegmentation(p.remoteSegmentation, p.inputVolume, folder, "remote")
                  if p.remoteSegmentation else None)
        params = {}
        for key, values in paramValues.items():
            params.update(values)
        cmd = command.segment_command(
            self.python(), image, os.path.join(folder, "result.seg.nrrd"), os.path.join(folder, "report.json"),
            myocardium=myocardium, myocardium_method=myocardiumMethod, scar_method=scarMethod, params=params,
            seeds_ras=self._points(p.seeds), rv_insertion_ras=self._points(p.rvInsertion), remote=remote,
            device=p.device, bullseye=os.path.join(folder, "bullseye.png"),
            lv_center_ras=(self._points(p.lvCenter) or [None])[0], models=p.models)
        self._start(cmd, {"kind": "segment", "folder": folder, "parameterNode": p})

    def startMeasure(self, p):
        folder = self._newJobFolder()
        image = self._exportVolume(p.inputVolume, folder)
        seg = self._exportSegmentation(p.outputSegmentation, p.inputVolume, folder, "edited")
        cmd = command.measure_command(self.python(), image, seg, os.path.join(folder, "report.json"),
                                      self._points(p.rvInsertion), os.path.join(folder, "bullseye.png"))
        self._start(cmd, {"kind": "measure", "folder": folder, "parameterNode": p})

    def startCompare(self, p, methods):
        folder = self._newJobFolder()
        image = self._exportVolume(p.inputVolume, folder)
        seg = self._exportSegmentation(p.outputSegmentation, p.inputVolume, folder, "current")
        cmd = command.compare_command(self.python(), image, seg, methods, os.path.join(folder, "compare.json"),
                                      os.path.join(folder, "consensus.seg.nrrd"), p.device, p.models)
        self._start(cmd, {"kind": "compare", "folder": folder, "parameterNode": p})

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
                self.finishedCallback(False, command.error_message(self._stderr, code), None, None, stdout)
                return
            if job["kind"] == "compare":
                report = json.load(open(os.path.join(folder, "compare.json")))
                self.finishedCallback(True, "Comparison finished.", None, None, stdout)
                return
            report = json.load(open(os.path.join(folder, "report.json")))
            if job["kind"] == "segment":
                self.importResult(job["parameterNode"], os.path.join(folder, "result.seg.nrrd"), report)
            self.updateTable(job["parameterNode"], report)
            verdict = report.get("quality", {}).get("status", "ok")
            self.finishedCallback(True, "Done." if verdict == "ok" else f"Done - quality {verdict.upper()}.", report,
                                  os.path.join(folder, "bullseye.png"), stdout)
        except Exception as exc:  # shown to the user with the log, never only in the console
            self.finishedCallback(False, f"could not load the result: {exc}", None, None, stdout)
        finally:  # the callbacks have loaded what they need (nodes, the bull's-eye pixmap)
            shutil.rmtree(folder, ignore_errors=True)

    # -- results -----------------------------------------------------------------------------
    def importResult(self, p, segPath, report):
        node = slicer.util.loadSegmentation(segPath)
        volume = p.inputVolume
        node.SetName(f"{volume.GetName()} LV scar ({report['methods']['scar']['name']})")
        node.SetReferenceImageGeometryParameterFromVolumeNode(volume)
        node.SetNodeReferenceID(node.GetReferenceImageGeometryReferenceRole(), volume.GetID())
        shNode = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(slicer.mrmlScene)
        shNode.SetItemParent(shNode.GetItemByDataNode(node), shNode.GetItemParent(shNode.GetItemByDataNode(volume)))
        node.CreateClosedSurfaceRepresentation()
        previous = p.outputSegmentation
        if p.replacePrevious and previous and previous is not p.myocardiumSegmentation:
            slicer.mrmlScene.RemoveNode(previous)
        p.outputSegmentation = node
        return node

    def updateTable(self, p, report):
        table = slicer.mrmlScene.GetFirstNodeByName("LVScarSeg measurements") or \
            slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", "LVScarSeg measurements")
        table.RemoveAllColumns()
        names = ["Segment", "Name", "Myocardium (mL)", "Scar (mL)", "Scar (%)", "Transmurality mean", "Transmurality max"]
        for n in names:
            table.AddColumn().SetName(n)
        rows = [["total", "LV myocardium", f"{report['volumes_ml']['lv_myocardium']:.2f}",
                 f"{report['volumes_ml']['scar']:.2f}", f"{report['scar_percent']:.1f}", "", ""]]
        rows += command.aha_table(report)
        for r, row in enumerate(rows):
            table.AddEmptyRow()
            for c, text in enumerate(row):
                table.SetCellText(r, c, text)
        return table
