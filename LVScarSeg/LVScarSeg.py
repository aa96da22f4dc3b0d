"""LVScarSeg: LV myocardium and scar segmentation for LGE cardiac MRI (3D Slicer module).

A thin module: the work is done by the engine ``LVScarSegLogic`` (pure Python, no Slicer),
run as ``PythonSlicer -m LVScarSegLogic ...`` in a background QProcess so Slicer never
freezes; the result comes back as an editable segmentation node and a table. Helpers that need
no Slicer live in ``LVScarSegLib`` (tested outside Slicer).
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
from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic,
                                           ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget)
from slicer.parameterNodeWrapper import Choice, parameterNodeWrapper
from slicer.util import VTKObservationMixin

from LVScarSegLib import command, paths, widgets

MODULE_DIR = os.path.dirname(os.path.abspath(__file__))
ENGINE_ROOT = paths.engine_root(MODULE_DIR)
if ENGINE_ROOT and ENGINE_ROOT not in sys.path:
    sys.path.insert(0, ENGINE_ROOT)  # the engine is a sibling folder (source tree) or copied beside us

# What the engine needs in Slicer's Python (import name -> pip requirement). torch comes from the
# PyTorch extension (PyTorchUtils), never from pip directly.
ENGINE_REQUIREMENTS = {"numpy": "numpy>=1.21", "scipy": "scipy>=1.7", "SimpleITK": "SimpleITK>=2.2",
                       "sklearn": "scikit-learn>=1.0", "skimage": "scikit-image>=0.19", "maxflow": "PyMaxflow>=1.2.13",
                       "safetensors": "safetensors>=0.4", "nrrd": "pynrrd>=1.0", "slicerio": "slicerio>=1.4",
                       "matplotlib": "matplotlib>=3.5", "PIL": "pillow>=9"}
DL_REQUIREMENTS = {"monai": "monai>=1.3"}


class LVScarSeg(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "LV Scar Segmentation"
        self.parent.categories = ["Cardiac"]
        self.parent.dependencies = []
        self.parent.contributors = ["LVScarSeg contributors"]
        self.parent.helpText = (
            "Segments the LV myocardium and myocardial scar (gray zone, MVO) in LGE cardiac MRI with classical methods "
            "(n-SD, FWHM, ...) or deep-learning models, and measures them (AHA 17 segments, transmurality). "
            "The result is an ordinary segmentation: edit it with the Segment Editor, then press Update measurements. "
            "Research use only.")
        self.parent.acknowledgementText = "Built on the LVScarSegLogic engine; see the repository README."
        icon = paths.resource_path(MODULE_DIR, "Icons", "LVScarSeg.png")
        if icon:  # from source the icon is in the sibling Resources/, not beside this file
            self.parent.icon = qt.QIcon(icon)


@parameterNodeWrapper
class LVScarSegParameterNode:
    inputVolume: slicer.vtkMRMLScalarVolumeNode
    myocardiumSegmentation: Optional[slicer.vtkMRMLSegmentationNode] = None
    seeds: Optional[slicer.vtkMRMLMarkupsFiducialNode] = None
    remoteSegmentation: Optional[slicer.vtkMRMLSegmentationNode] = None
    rvInsertion: Optional[slicer.vtkMRMLMarkupsFiducialNode] = None
    outputSegmentation: Optional[slicer.vtkMRMLSegmentationNode] = None
    device: Annotated[str, Choice(["auto", "cpu", "cuda"])] = "auto"
    replacePrevious: bool = True
    # set from code (combo boxes filled from the registry, generated parameter widgets)
    myocardiumSegmentID: str = ""
    myocardiumMethod: str = ""
    scarMethod: str = ""
    methodParams: str = "{}"  # JSON: {method key: {param: value}}


class LVScarSegWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None, logic=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = logic  # injectable for tests
        self._parameterNode = None
        self._guiTag = None
        self._paramWidgets = {}
        self._methods = []

    # -- set-up -----------------------------------------------------------------------------
    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiPath = paths.resource_path(MODULE_DIR, "UI", "LVScarSeg.ui")
        uiWidget = slicer.util.loadUI(uiPath)
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        if self.logic is None:
            self.logic = LVScarSegModuleLogic()
        self.logic.progressCallback = self.onProgress
        self.logic.finishedCallback = self.onFinished
        self._fillMethodCombos()
        self.ui.resultsTable.setColumnCount(3)
        self.ui.resultsTable.setHorizontalHeaderLabels(["Measurement", "Value", "Unit"])
        self.ui.myocardiumSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.onMyocardiumChanged)
        self.ui.myocardiumSegmentSelector.connect("currentSegmentChanged(QString)", self.onSegmentChanged)
        self.ui.myocardiumMethodComboBox.connect("currentIndexChanged(int)", self.onMethodChanged)
        self.ui.scarMethodComboBox.connect("currentIndexChanged(int)", self.onMethodChanged)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.updateMeasurementsButton.connect("clicked(bool)", self.onUpdateMeasurements)
        self.ui.compareButton.connect("clicked(bool)", self.onCompare)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.initializeParameterNode()

    def _fillMethodCombos(self):
        self._methods = self.logic.methods()
        for combo, target in ((self.ui.myocardiumMethodComboBox, "myocardium"), (self.ui.scarMethodComboBox, "scar")):
            combo.clear()
            for m in self._methods:
                if m["target"] == target:
                    label = m["name"] + (" (default)" if m["default"] else "")
                    combo.addItem(label, m["name"])
                    combo.setItemData(combo.count - 1, m["summary"], qt.Qt.ToolTipRole)
                    if m["default"]:
                        combo.setCurrentIndex(combo.count - 1)

    def _method(self, target):
        combo = self.ui.myocardiumMethodComboBox if target == "myocardium" else self.ui.scarMethodComboBox
        name = combo.currentData
        return next((m for m in self._methods if m["target"] == target and m["name"] == name), None)

    def _buildParameterWidgets(self, myocardiumNode="parameter node"):
        """Widgets for the chosen methods' parameters, generated from the registry. The myocardium
        model's parameters only when no myocardium is given (``myocardiumNode``: the selector's
        new node, which the parameter node may not hold yet)."""
        if myocardiumNode == "parameter node":
            myocardiumNode = self._parameterNode.myocardiumSegmentation if self._parameterNode else None
        layout = self.ui.methodParametersWidget.layout()
        while layout.count():
            item = layout.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        self._paramWidgets = {}
        saved = json.loads(self._parameterNode.methodParams) if self._parameterNode else {}
        for target in ("myocardium", "scar"):
            m = self._method(target)
            if m is None or (target == "myocardium" and myocardiumNode is not None):
                continue
            key = m["name"] if target == "scar" else f"myocardium.{m['name']}"
            for spec in widgets.widget_specs(m):
                value = saved.get(key, {}).get(spec["name"], spec["default"])
                if spec["kind"] == "check":
                    w = qt.QCheckBox()
                    w.checked = bool(value)
                elif spec["kind"] == "spin":
                    w = qt.QSpinBox()
                    w.minimum, w.maximum = int(spec.get("min", -10**6)), int(spec.get("max", 10**6))
                    w.value = int(value)
                elif spec["kind"] == "double":
                    w = qt.QDoubleSpinBox()
                    w.decimals = spec["decimals"]
                    w.minimum, w.maximum = float(spec.get("min", -1e6)), float(spec.get("max", 1e6))
                    w.singleStep = spec["step"]
                    w.value = float(value)
                elif spec["kind"] == "combo":
                    w = qt.QComboBox()
                    w.addItems(spec["choices"])
                    w.currentText = str(value)
                else:
                    w = qt.QLineEdit(str(value))
                w.toolTip = spec["tooltip"]
                layout.addRow(f"{spec['label']}:", w)
                self._paramWidgets[(key, spec["name"])] = (w, spec)

    def _parameterValues(self):
        values = {}
        for (key, name), (w, spec) in self._paramWidgets.items():
            kind = spec["kind"]
            v = (w.checked if kind == "check" else w.value if kind in ("spin", "double")
                 else w.currentText if kind == "combo" else w.text)
            values.setdefault(key, {})[name] = v
        return values

    # -- parameter node -------------------------------------------------------------------------
    def cleanup(self):
        self.removeObservers()
        self.logic.cancel()

    def enter(self):
        self.initializeParameterNode()

    def exit(self):
        if self._parameterNode and self._guiTag:
            self._parameterNode.disconnectGui(self._guiTag)
            self._guiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)

    def onSceneStartClose(self, caller, event):
        self.logic.cancel()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event):
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self):
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            first = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if first:
                self._parameterNode.inputVolume = first

    def setParameterNode(self, node):
        if self._parameterNode and self._guiTag:
            self._parameterNode.disconnectGui(self._guiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
        self._parameterNode = node
        if node:
            self._guiTag = node.connectGui(self.ui)
            self.addObserver(node, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
            for combo, value in ((self.ui.myocardiumMethodComboBox, node.myocardiumMethod),
                                 (self.ui.scarMethodComboBox, node.scarMethod)):
                index = combo.findData(value) if value else -1
                if index >= 0:
                    combo.setCurrentIndex(index)
            self._buildParameterWidgets()
            self._checkCanApply()

    def onMyocardiumChanged(self, node):
        self.ui.myocardiumSegmentSelector.setCurrentNode(node)
        p = self._parameterNode
        if p and node and p.myocardiumSegmentID and node.GetSegmentation().GetSegment(p.myocardiumSegmentID):
            self.ui.myocardiumSegmentSelector.setCurrentSegmentID(p.myocardiumSegmentID)
        self.ui.myocardiumMethodComboBox.enabled = node is None
        if p:
            self._buildParameterWidgets(node)

    def onSegmentChanged(self, segmentID):
        if self._parameterNode:
            self._parameterNode.myocardiumSegmentID = segmentID or ""

    def onMethodChanged(self, index=None):
        if not self._parameterNode:
            return
        self._parameterNode.myocardiumMethod = self.ui.myocardiumMethodComboBox.currentData or ""
        self._parameterNode.scarMethod = self.ui.scarMethodComboBox.currentData or ""
        self._buildParameterWidgets()

    def _checkCanApply(self, caller=None, event=None):
        p = self._parameterNode
        if self.logic.isRunning():
            return
        missing = None
        if not p or not p.inputVolume:
            missing = "Select the LGE volume."
        elif not p.myocardiumSegmentation and not self.ui.myocardiumMethodComboBox.currentData:
            missing = "Select a myocardium segmentation or a myocardium model."
        self.ui.applyButton.enabled = missing is None
        self.ui.applyButton.toolTip = missing or "Run the selected methods in the background (Cancel stops them)"
        has_result = bool(p and p.outputSegmentation and p.inputVolume)
        self.ui.updateMeasurementsButton.enabled = has_result
        self.ui.compareButton.enabled = has_result

    # -- running ---------------------------------------------------------------------------
    def onApplyButton(self):
        if self.logic.isRunning():
            self.ui.statusLabel.text = "Cancelling..."
            self.logic.cancel()
            return
        p = self._parameterNode
        p.methodParams = json.dumps(self._parameterValues())
        scar = self.ui.scarMethodComboBox.currentData
        myo = None if p.myocardiumSegmentation else self.ui.myocardiumMethodComboBox.currentData
        needs_torch = any(m.get("family") == "deep learning" for m in (self._method("scar"), self._method("myocardium") if myo else None) if m)
        with slicer.util.tryWithErrorDisplay("LVScarSeg could not start.", waitCursor=True):
            if not self.logic.ensureDependencies(deepLearning=needs_torch):
                return
            self.ui.logTextEdit.clear()
            self.logic.startSegmentation(p, myo, scar, self._parameterValues())
            self._setRunning(True, "Segmenting...")

    def onUpdateMeasurements(self):
        with slicer.util.tryWithErrorDisplay("Measuring failed.", waitCursor=True):
            self.logic.startMeasure(self._parameterNode)
            self._setRunning(True, "Measuring the current segmentation...")

    def onCompare(self):
        methods = [m.strip() for m in self.ui.compareMethodsLineEdit.text.split(",") if m.strip()]
        with slicer.util.tryWithErrorDisplay("Comparing methods failed.", waitCursor=True):
            self.logic.startCompare(self._parameterNode, methods)
            self._setRunning(True, "Comparing scar methods...")

    def _setRunning(self, running, status):
        self.ui.applyButton.text = "Cancel" if running else "Apply"
        self.ui.applyButton.enabled = True
        self.ui.updateMeasurementsButton.enabled = not running
        self.ui.compareButton.enabled = not running
        self.ui.statusLabel.text = status
        if running:
            self.ui.progressBar.value = 0

    def onProgress(self, percent, message):
        self.ui.progressBar.value = percent
        self.ui.statusLabel.text = message
        self.ui.logTextEdit.appendPlainText(f"{percent:3d}% {message}")

    def onFinished(self, ok, message, report, bullseyePath, extraText):
        self._setRunning(False, message)
        self._checkCanApply()
        if extraText:
            self.ui.logTextEdit.appendPlainText(extraText)
        if not ok:
            if message != "cancelled":
                slicer.util.errorDisplay(f"LVScarSeg: {message}", detailedText=self.ui.logTextEdit.toPlainText())
            return
        if report:
            rows = command.report_rows(report)
            self.ui.resultsTable.setRowCount(len(rows))
            for r, row in enumerate(rows):
                for c, text in enumerate(row):
                    self.ui.resultsTable.setItem(r, c, qt.QTableWidgetItem(text))
            self.ui.resultsTable.resizeColumnsToContents()
            for w in report.get("warnings", []):
                self.ui.logTextEdit.appendPlainText(f"warning: {w}")
        if bullseyePath and os.path.exists(bullseyePath):
            pixmap = qt.QPixmap(bullseyePath)
            self.ui.bullseyeLabel.setPixmap(pixmap.scaledToWidth(min(400, pixmap.width()), qt.Qt.SmoothTransformation))


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
            device=p.device, bullseye=os.path.join(folder, "bullseye.png"))
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
                                      os.path.join(folder, "consensus.seg.nrrd"), p.device)
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
            if exitStatus != qt.QProcess.NormalExit or exitCode != 0:  # exitCode means nothing after a crash
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
            self.finishedCallback(True, "Done.", report, os.path.join(folder, "bullseye.png"), stdout)
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


class LVScarSegTest(ScriptedLoadableModuleTest):
    """Runs in Slicer (Developer mode -> Reload and Test, or ctest py_LVScarSeg)."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_classical_and_deep_learning_and_edit()

    def _run(self, logic, start, timeout_s=600):
        import time

        done = {}
        logic.finishedCallback = lambda ok, message, report, bullseye, text: done.update(ok=ok, message=message, report=report)
        start()
        deadline = time.time() + timeout_s
        while logic.isRunning():
            logic.process.waitForFinished(100)
            slicer.app.processEvents()
            if time.time() > deadline:
                logic.cancel()
                self.fail(f"the engine did not finish within {timeout_s} s")
        slicer.app.processEvents()
        self.assertTrue(done.get("ok"), done.get("message"))
        return done["report"]

    def test_classical_and_deep_learning_and_edit(self):
        import numpy as np
        from LVScarSegLogic.phantom.cases import make_case
        from LVScarSegLogic.segio import write_segmentation
        from LVScarSegLogic.volume import write_volume

        folder = tempfile.mkdtemp(prefix="LVScarSegTest-")
        image, codes, grid, meta = make_case(7, 0, "3d-lowres", healthy=False, hard=False)
        write_volume(os.path.join(folder, "image.nrrd"), image, grid)
        write_segmentation(os.path.join(folder, "truth.seg.nrrd"), codes, grid)  # named segments, as a reader's
        volume = slicer.util.loadVolume(os.path.join(folder, "image.nrrd"))
        truth = slicer.util.loadSegmentation(os.path.join(folder, "truth.seg.nrrd"))
        logic = LVScarSegModuleLogic()
        logic.ensureDependencies()  # in testing mode the confirmation answers itself
        p = logic.getParameterNode()
        p.inputVolume = volume
        p.myocardiumSegmentation = truth
        p.device = "cpu"
        p.replacePrevious = False
        report = self._run(logic, lambda: logic.startSegmentation(p, None, "strm", {}))
        seg = p.outputSegmentation
        ids = [seg.GetSegmentation().GetNthSegmentID(i) for i in range(seg.GetSegmentation().GetNumberOfSegments())]
        self.assertIn("myocardium", ids)
        self.assertIn("scar", ids)
        scarArray = slicer.util.arrayFromSegmentBinaryLabelmap(seg, "scar", volume)
        self.assertEqual(scarArray.shape, slicer.util.arrayFromVolume(volume).shape)  # on the input grid
        self.assertGreater(report["volumes_ml"]["scar"], 0.5)
        # edit: erase the scar in half of the slices, then Update measurements must see less scar
        scarArray[: scarArray.shape[0] // 2] = 0
        slicer.util.updateSegmentBinaryLabelmapFromArray(scarArray, seg, "scar", volume)
        edited = self._run(logic, lambda: logic.startMeasure(p))
        self.assertLess(edited["volumes_ml"]["scar"], report["volumes_ml"]["scar"])
        # deep learning, fully automatic (needs torch and monai in Slicer's Python)
        import importlib.util

        if importlib.util.find_spec("torch") and importlib.util.find_spec("monai"):
            p.myocardiumSegmentation = None
            auto = self._run(logic, lambda: logic.startSegmentation(p, "cmpunet", "cmpunet", {}))
            self.assertEqual(auto["methods"]["myocardium"]["name"], "cmpunet")
            self.assertGreater(auto["volumes_ml"]["lv_myocardium"], 20.0)
        else:
            self.delayDisplay("PyTorch/MONAI not installed in Slicer: the deep-learning part was not tested")
        self.assertTrue(np.isfinite(edited["scar_percent"]))
        self.delayDisplay("LVScarSeg test passed")
