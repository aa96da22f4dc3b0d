"""LVScarSeg: LV myocardium and scar segmentation for LGE cardiac MRI (3D Slicer module).

A thin module: the work is done by the engine ``LVScarSegLogic`` (pure Python, no Slicer),
run as ``PythonSlicer -m LVScarSegLogic ...`` in a background QProcess so Slicer never
freezes; the result comes back as an editable segmentation node and a table. This file holds the
module, the widget and the self-test; ``LVScarSegLib/logic.py`` the logic and the parameter node;
the other ``LVScarSegLib`` files need no Slicer (tested outside it).
"""
import json
import os
import tempfile

import qt
import slicer
import vtk
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget
from slicer.util import VTKObservationMixin

from LVScarSegLib import command, paths, widgets
from LVScarSegLib.logic import MODULE_DIR, LVScarSegModuleLogic


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
    def onReload(self):
        """Slicer's Reload re-imports only this file; the logic lives in LVScarSegLib."""
        import importlib
        import sys

        for name in sorted(n for n in sys.modules if n.startswith("LVScarSegLib")):
            importlib.reload(sys.modules[name])
        ScriptedLoadableModuleWidget.onReload(self)

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
            first = self.logic.firstImageVolume()
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
        missing = self.logic.problem(p, self.ui.myocardiumMethodComboBox.currentData)
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
            verdict = command.quality_text(report)
            if verdict:
                self.ui.logTextEdit.appendPlainText(verdict)
                message = f"{message}  {verdict}"
            licenses = command.license_lines(report)
            for line in licenses:
                self.ui.logTextEdit.appendPlainText(line)
            self.ui.statusLabel.text = message + ("  " + "; ".join(licenses) if licenses else "")
            if command.lv_in_doubt(report):
                self._askForLvCenter()
        if bullseyePath and os.path.exists(bullseyePath):
            pixmap = qt.QPixmap(bullseyePath)
            self.ui.bullseyeLabel.setPixmap(pixmap.scaledToWidth(min(400, pixmap.width()), qt.Qt.SmoothTransformation))


    def _askForLvCenter(self):
        """The engine doubts the LV it found: offer the one-click fix, a point in the LV cavity."""
        if not slicer.util.confirmYesNoDisplay(
                "LVScarSeg is not sure it found the left ventricle (see the warnings in the log).\n\n"
                "Click once inside the LV cavity, then press Apply again: the model starts there.\n\nPlace the point now?"):
            return
        p = self._parameterNode
        if p.lvCenter is None:
            p.lvCenter = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "LV centre")
        p.lvCenter.RemoveAllControlPoints()
        self.ui.pointsCollapsibleButton.collapsed = False
        slicer.modules.markups.logic().SetActiveListID(p.lvCenter)  # the point goes into this list
        slicer.modules.markups.logic().StartPlaceMode(0)  # one click, then back to the normal mode


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
