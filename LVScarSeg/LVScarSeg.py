"""LVScarSeg (3D Slicer module): the module, the widget's wiring and the self-test's entry. The
engine LVScarSegLogic does the work in the background (``PythonSlicer -m LVScarSegLogic``);
LVScarSegLib holds the logic, the scene work, the runner and the panel's parts."""
import json

import qt
import slicer
import vtk
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget
from slicer.util import VTKObservationMixin

from LVScarSegLib import panel, paths, scene
from LVScarSegLib.logic import LVScarSegModuleLogic
from LVScarSegLib.selftest import LVScarSegSelfTest


class LVScarSeg(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title, self.parent.categories, self.parent.dependencies = "LV Scar Segmentation", ["Cardiac"], []
        self.parent.contributors, self.parent.helpText = ["LVScarSeg contributors"], panel.HELP
        self.parent.acknowledgementText = "Built on the LVScarSegLogic engine; see the repository README."
        icon = paths.resource_path(paths.MODULE_DIR, "Icons", "LVScarSeg.png")
        if icon:  # from source the icon is in the sibling Resources/, not beside this file
            self.parent.icon = qt.QIcon(icon)


class LVScarSegWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None, logic=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic, self._parameterNode, self._guiTag, self._paramWidgets, self._methods = logic, None, None, {}, []

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(paths.resource_path(paths.MODULE_DIR, "UI", "LVScarSeg.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = self.logic or LVScarSegModuleLogic()
        self.logic.progressCallback = lambda percent, message: panel.show_progress(self.ui, percent, message)
        self.logic.finishedCallback = self.onFinished
        self._methods = self.logic.methods()
        panel.prepare(self.ui, self._methods)
        self.ui.myocardiumSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.onMyocardiumChanged)
        self.ui.myocardiumSegmentSelector.connect("currentSegmentChanged(QString)", self.onSegmentChanged)
        for combo in (self.ui.myocardiumMethodComboBox, self.ui.scarMethodComboBox):
            combo.connect("currentIndexChanged(int)", self.onMethodChanged)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.updateMeasurementsButton.connect("clicked(bool)", lambda: self._run(
            "Measuring failed.", "Measuring the current segmentation...", self.logic.startMeasure))
        self.ui.compareButton.connect("clicked(bool)", lambda: self._run(
            "Comparing methods failed.", "Comparing scar methods...", self.logic.startCompare,
            [m.strip() for m in self.ui.compareMethodsLineEdit.text.split(",") if m.strip()]))
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent,
                         lambda *a: self.initializeParameterNode() if self.parent.isEntered else None)
        self.initializeParameterNode()

    def _buildParameterWidgets(self, myocardiumNode="parameter node"):
        """The chosen methods' parameter widgets; the myocardium model's only without a given wall."""
        p = self._parameterNode
        given = p.myocardiumSegmentation if myocardiumNode == "parameter node" and p else myocardiumNode
        self._paramWidgets = panel.parameter_widgets_for(self.ui, self._methods, given is not None,
                                                         p.methodParams if p else "{}")

    def onReload(self):  # Slicer's Reload re-imports only this file; the rest lives in LVScarSegLib
        paths.reload_library()
        ScriptedLoadableModuleWidget.onReload(self)

    def onSceneStartClose(self, caller=None, event=None):
        self.logic.cancel()  # a run must not import into a scene that is gone
        self.setParameterNode(None)

    def cleanup(self):
        self.removeObservers()
        self.logic.cancel()

    def enter(self):
        self.initializeParameterNode()

    def exit(self):
        self.setParameterNode(None)

    def initializeParameterNode(self):
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume and scene.first_image_volume():
            self._parameterNode.inputVolume = scene.first_image_volume()

    def setParameterNode(self, node):
        if self._parameterNode and self._guiTag:
            self._parameterNode.disconnectGui(self._guiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
            self._guiTag = None
        self._parameterNode = node
        if node:
            self._guiTag = node.connectGui(self.ui)
            self.addObserver(node, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
            panel.choose_methods(self.ui, node.myocardiumMethod, node.scarMethod)
            self._buildParameterWidgets()
            self._checkCanApply()

    def onMyocardiumChanged(self, node):
        panel.show_wall_segment(self.ui, node, self._parameterNode.myocardiumSegmentID if self._parameterNode else "")
        if self._parameterNode:
            self._buildParameterWidgets(node)

    def onSegmentChanged(self, segmentID):
        if self._parameterNode:
            self._parameterNode.myocardiumSegmentID = segmentID or ""

    def onMethodChanged(self, index=None):
        if self._parameterNode:
            self._parameterNode.myocardiumMethod = self.ui.myocardiumMethodComboBox.currentData or ""
            self._parameterNode.scarMethod = self.ui.scarMethodComboBox.currentData or ""
            self._buildParameterWidgets()

    def _checkCanApply(self, caller=None, event=None):
        if not self.logic.isRunning():
            p = self._parameterNode
            panel.show_can_apply(self.ui, self.logic.isValid(p, self.ui.myocardiumMethodComboBox.currentData), p)

    def onApplyButton(self):
        if self.logic.isRunning():
            self.ui.statusLabel.text = "Cancelling..."
            return self.logic.cancel()
        p, values = self._parameterNode, panel.parameter_values(self._paramWidgets)
        p.methodParams = json.dumps(values)
        myo = None if p.myocardiumSegmentation else self.ui.myocardiumMethodComboBox.currentData
        with slicer.util.tryWithErrorDisplay("LVScarSeg could not start.", waitCursor=True):  # one popup on failure
            if self.logic.ensureDependencies(deepLearning=panel.needs_torch(self.ui, self._methods, bool(myo))):
                self.ui.logTextEdit.clear()
                self.logic.startSegmentation(p, myo, self.ui.scarMethodComboBox.currentData, values)
                panel.set_running(self.ui, True, "Segmenting...")

    def _run(self, failure, status, start, *args):
        with slicer.util.tryWithErrorDisplay(failure, waitCursor=True):
            start(self._parameterNode, *args)
            panel.set_running(self.ui, True, status)

    def onFinished(self, ok, message, report, bullseyePath, extraText):
        panel.set_running(self.ui, False, message)
        self._checkCanApply()
        panel.show_finished(self.ui, self._parameterNode or self.logic.getParameterNode(), ok, message, report,
                            bullseyePath, extraText)


class LVScarSegTest(LVScarSegSelfTest, ScriptedLoadableModuleTest):
    """Reload and Test, or ctest py_LVScarSeg (LVScarSegLib/selftest.py; the mixin first: its runTest wins)."""
