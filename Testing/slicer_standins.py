"""Stand-ins for the Qt half of 3D Slicer, so the module's logic runs against Slicer's real MRML.

``slicer-core`` (PyPI, Apache-2.0) is Slicer's MRML, its module logics (Segmentations,
Terminologies, Markups, Tables, Subject hierarchy, Volumes, Colors, Transforms) and ``slicer.util``,
without Qt. What the application adds on top is replaced here, each by the least that behaves the
same for this module:

- ``qt``: only ``QProcess`` (a subprocess whose signals are delivered when the test calls
  ``slicer.app.processEvents()`` or ``waitForFinished``, on the calling thread as in Qt) and
  ``QProcessEnvironment``; a few inert names the module file touches at import.
- ``slicer.app``: ``temporaryPath``, ``processEvents`` and ``coreIOManager()``, whose load and save
  do what Slicer's readers and writers do with the real storage nodes: a loaded node keeps its
  storage node, and saving a node points that node's storage node at the new file.
- ``slicer.mrmlScene`` and ``slicer.modules.<name>.logic()``: a real scene and real logics.
- ``slicer.ScriptedLoadableModule``: the base classes; the logic's parameter node is the scene's
  singleton ``vtkMRMLScriptedModuleNode`` tagged with the module name, as in Slicer.
- ``slicer.parameterNodeWrapper``: typed access to that node (node references by role, strings,
  booleans, ``Choice`` checked); no GUI connection, the widget is not run here.
- the subject hierarchy plugins: a data node added to the scene gets an item under the scene.
- ``slicer.dicomDatabase`` (ctkDICOMDatabase): instance UID -> file, and ``insert`` keeping a copy.
- ``slicer.util`` dialogs: they record what they were asked and answer ``answers[kind]``.
"""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types
import typing
import unittest

import slicer  # slicer-core
import vtk

# ---------------------------------------------------------------------------------------- qt


class _Signal:
    def __init__(self):
        self.slots = []


class QProcessEnvironment:
    def __init__(self, values=None):
        self._values = dict(values or {})

    @staticmethod
    def systemEnvironment():
        return QProcessEnvironment(os.environ)

    def insert(self, name, value):
        self._values[name] = value

    def contains(self, name):
        return name in self._values

    def value(self, name):
        return self._values.get(name, "")


class _Bytes:
    def __init__(self, data: bytes):
        self._data = data

    def data(self):
        return self._data


class QProcess:
    """A child process with Qt's interface; output is read by threads, and the signals
    (readyReadStandardError, finished) are queued and delivered by ``_deliver`` on the caller's thread."""
    NotRunning, Starting, Running = 0, 1, 2
    NormalExit, CrashExit = 0, 1
    _instances = []

    def __init__(self, parent=None):
        self._popen = None
        self._env = None
        self._stdout = b""
        self._stderr = b""
        self._lock = threading.Lock()
        self._events: "queue.Queue" = queue.Queue()
        self._signals = {}
        self._finished_delivered = False
        self._error = ""
        QProcess._instances.append(self)

    def setProcessEnvironment(self, env):
        self._env = env

    def connect(self, signature, slot):
        self._signals.setdefault(signature, []).append(slot)

    def start(self, program, args):
        try:
            self._popen = subprocess.Popen([program] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           env=dict(self._env._values) if self._env else None)
        except OSError as exc:
            self._error = str(exc)
            return
        self._readers = [threading.Thread(target=self._read, args=(self._popen.stdout, "stdout"), daemon=True),
                         threading.Thread(target=self._read, args=(self._popen.stderr, "stderr"), daemon=True)]
        for r in self._readers:
            r.start()
        threading.Thread(target=self._wait, daemon=True).start()

    def _read(self, stream, name):
        for chunk in iter(lambda: stream.read1(4096), b""):
            with self._lock:
                if name == "stdout":
                    self._stdout += chunk
                else:
                    self._stderr += chunk
                    self._events.put(("readyReadStandardError()", ()))

    def _wait(self):
        code = self._popen.wait()
        for r in self._readers:
            r.join()
        status = QProcess.NormalExit if code >= 0 else QProcess.CrashExit
        self._events.put(("finished(int,QProcess::ExitStatus)", (code if code >= 0 else 0, status)))

    def _deliver(self):
        while True:
            try:
                signature, args = self._events.get_nowait()
            except queue.Empty:
                return
            if signature.startswith("finished"):
                self._finished_delivered = True
            for slot in self._signals.get(signature, []):
                slot(*args)

    def waitForStarted(self, msecs=30000):
        return self._popen is not None

    def waitForFinished(self, msecs=30000):
        deadline = time.time() + msecs / 1000.0
        while not self._finished_delivered and time.time() < deadline:
            self._deliver()
            time.sleep(0.01)
        self._deliver()
        return self._finished_delivered

    def state(self):
        if self._popen is None or self._finished_delivered:
            return QProcess.NotRunning
        return QProcess.Running

    def errorString(self):
        return self._error or "unknown error"

    def processId(self):
        return self._popen.pid if self._popen else 0

    def readAllStandardError(self):
        with self._lock:
            data, self._stderr = self._stderr, b""
        return _Bytes(data)

    def readAllStandardOutput(self):
        with self._lock:
            data, self._stdout = self._stdout, b""
        return _Bytes(data)

    def terminate(self):
        if self._popen and self._popen.poll() is None:
            self._popen.send_signal(signal.SIGTERM)

    def kill(self):
        if self._popen and self._popen.poll() is None:
            self._popen.kill()

    def deleteLater(self):
        if self in QProcess._instances:
            QProcess._instances.remove(self)


def _qt_module():
    qt = types.ModuleType("qt")
    qt.__doc__ = "Stand-in for PythonQt's qt module (Testing/slicer_standins.py)"
    qt.QProcess, qt.QProcessEnvironment = QProcess, QProcessEnvironment
    qt.QIcon = lambda *a, **k: None
    qt.Qt = types.SimpleNamespace(ToolTipRole=3, SmoothTransformation=1)
    return qt


# --------------------------------------------------------------------------------- slicer.app


class _IOManager:
    """What qSlicerCoreIOManager does for volumes and segmentations, through the real storage nodes."""
    _READERS = {"VolumeFile": ("vtkMRMLScalarVolumeNode", "vtkMRMLVolumeArchetypeStorageNode"),
                "LabelMapVolumeFile": ("vtkMRMLLabelMapVolumeNode", "vtkMRMLVolumeArchetypeStorageNode"),
                "SegmentationFile": ("vtkMRMLSegmentationNode", "vtkMRMLSegmentationStorageNode")}

    def __init__(self, scene):
        self.scene = scene

    def fileType(self, filename):
        return "SegmentationFile" if str(filename).endswith(".seg.nrrd") else "VolumeFile"

    def fileWriterFileType(self, node):
        return "SegmentationFile" if node.IsA("vtkMRMLSegmentationNode") else "VolumeFile"

    def loadNodes(self, filetype, properties, loaded, messages):
        path = properties["fileName"]
        if filetype == "VolumeFile" and properties.get("labelmap"):
            filetype = "LabelMapVolumeFile"
        nodeClass, storageClass = self._READERS[filetype]
        name = properties.get("name") or os.path.basename(path).split(".")[0]
        node = self.scene.AddNewNodeByClass(nodeClass, name)
        storage = self.scene.AddNewNodeByClass(storageClass)
        storage.SetFileName(path)
        node.SetAndObserveStorageNodeID(storage.GetID())
        if not storage.ReadData(node):
            self.scene.RemoveNode(node)
            self.scene.RemoveNode(storage)
            return False
        node.CreateDefaultDisplayNodes()
        loaded.AddItem(node)
        return True

    def saveNodes(self, filetype, properties, messages):
        # as qSlicerNodeWriter: the node's own storage node is pointed at the new file and writes it
        node = self.scene.GetNodeByID(properties["nodeID"])
        storage = node.GetStorageNode()
        if storage is None:
            node.AddDefaultStorageNode()
            storage = node.GetStorageNode()
        storage.SetFileName(properties["fileName"])
        if "useCompression" in properties:
            storage.SetUseCompression(int(bool(properties["useCompression"])))
        return bool(storage.WriteData(node))


class _App:
    def __init__(self, scene, temporary_path):
        self._scene = scene
        self.temporaryPath = temporary_path
        self._io = _IOManager(scene)

    def processEvents(self):
        for p in list(QProcess._instances):
            p._deliver()

    def coreIOManager(self):
        return self._io

    def mrmlScene(self):
        return self._scene


# ------------------------------------------------------------------- ScriptedLoadableModule


class ScriptedLoadableModule:
    def __init__(self, parent):
        self.parent = parent


class ScriptedLoadableModuleWidget:
    def __init__(self, parent=None):
        self.parent = parent


class ScriptedLoadableModuleLogic:
    def __init__(self, parent=None):
        self.moduleName = type(self).__name__[:-len("Logic")] if type(self).__name__.endswith("Logic") else type(self).__name__

    def getParameterNode(self):
        scene = slicer.mrmlScene
        node = scene.GetSingletonNode(self.moduleName, "vtkMRMLScriptedModuleNode")
        if node is None:
            node = scene.CreateNodeByClass("vtkMRMLScriptedModuleNode")
            node.UnRegister(None)
            node.SetSingletonTag(self.moduleName)
            node.SetName(scene.GenerateUniqueName(self.moduleName))
            node.SetAttribute("ModuleName", self.moduleName)
            node = scene.AddNode(node)
        return node


class ScriptedLoadableModuleTest(unittest.TestCase):
    def delayDisplay(self, message, msec=0):
        print(message)

    def runTest(self):  # as Slicer's: a module test that does not define one runs nothing
        self.delayDisplay("No test is defined in " + type(self).__name__)


# -------------------------------------------------------------------- parameterNodeWrapper


class Choice:
    def __init__(self, choices):
        self.choices = list(choices)


def _node_class(tp):
    for t in (typing.get_args(tp) or (tp,)):
        if isinstance(t, type) and issubclass(t, vtk.vtkObject) and t.__name__.startswith("vtkMRML"):
            return t
    return None


def parameterNodeWrapper(cls):
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {}
    for name, tp in hints.items():
        choices = None
        if typing.get_origin(tp) is typing.Annotated:
            base, *extras = typing.get_args(tp)
            choices = next((e.choices for e in extras if isinstance(e, Choice)), None)
            tp = base
        fields[name] = (tp, choices, getattr(cls, name, None))

    def make(name, tp, choices):
        nodeClass = _node_class(tp)

        def get(self):
            if nodeClass is not None:
                return self.parameterNode.GetNodeReference(name)
            text = self.parameterNode.GetParameter(name)
            return text == "True" if tp is bool else text

        def set_(self, value):
            if nodeClass is not None:
                if value is not None and not value.IsA(nodeClass.__name__):
                    raise ValueError(f"{name}: a {nodeClass.__name__} is required, not {value.GetClassName()}")
                self.parameterNode.SetNodeReferenceID(name, value.GetID() if value is not None else None)
                return
            if choices is not None and value not in choices:
                raise ValueError(f"{name}: {value!r} is not one of {choices}")
            if tp is bool and not isinstance(value, bool):
                raise ValueError(f"{name}: a bool is required, not {value!r}")
            self.parameterNode.SetParameter(name, str(value))
        return property(get, set_)

    def init(self, parameterNode):
        self.parameterNode = parameterNode
        for name, (tp, choices, default) in fields.items():
            if _node_class(tp) is None and not parameterNode.GetParameter(name):
                setattr(self, name, default)

    namespace = {"__init__": init, "__doc__": cls.__doc__, "allParameters": dict(fields)}
    for name, (tp, choices, default) in fields.items():
        namespace[name] = make(name, tp, choices)
    return type(cls.__name__, (), namespace)


# ------------------------------------------------------------------------------ install


class DicomDatabase:
    """ctkDICOMDatabase's two calls the module makes: the file of an instance, and insert (a copy is kept)."""

    def __init__(self, folder):
        self.folder, self.instances, self.inserted = folder, {}, []

    def fileForInstance(self, uid):
        return self.instances.get(uid, "")

    def insert(self, path, storeFile=True):
        import shutil

        target = os.path.join(self.folder, f"{len(self.inserted):04d}_{os.path.basename(path)}")
        shutil.copyfile(path, target)
        self.inserted.append(target)


class Environment:
    """The scene, the logics and the dialogs' record; ``reset()`` empties the scene between tests."""

    def __init__(self, scene, logics, app):
        self.scene, self.logics, self.app = scene, logics, app
        self.dialogs = []
        self.answers = {"confirm": True}

    def reset(self):
        self.scene.Clear(0)
        slicer.dicomDatabase.instances.clear()
        slicer.dicomDatabase.inserted.clear()
        # the application keeps a subject hierarchy node in every scene (here it would come lazily)
        slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(self.scene)
        self.dialogs.clear()
        self.answers = {"confirm": True}


_ENV = None

_LOGICS = {"segmentations": "vtkSlicerSegmentationsModuleLogic", "terminologies": "vtkSlicerTerminologiesModuleLogic",
           "markups": "vtkSlicerMarkupsLogic", "subjecthierarchy": "vtkSlicerSubjectHierarchyModuleLogic",
           "tables": "vtkSlicerTablesLogic", "volumes": "vtkSlicerVolumesLogic", "colors": "vtkSlicerColorLogic",
           "transforms": "vtkSlicerTransformLogic"}


def install() -> Environment:
    """Put the stand-ins in place (once per process) and return the environment."""
    global _ENV
    if _ENV is not None:
        return _ENV
    scene = slicer.vtkMRMLScene()
    appLogic = slicer.vtkSlicerApplicationLogic()
    appLogic.SetMRMLScene(scene)
    logics = {}
    for name, cls in _LOGICS.items():
        logic = getattr(slicer, cls)()
        logic.SetMRMLApplicationLogic(appLogic)
        logic.SetMRMLScene(scene)
        logics[name] = logic
    app = _App(scene, tempfile.mkdtemp(prefix="slicer-standin-"))
    slicer.mrmlScene, slicer.app = scene, app
    slicer.dicomDatabase = DicomDatabase(tempfile.mkdtemp(prefix="slicer-standin-dicomdb-"))
    slicer.modules = types.SimpleNamespace(**{n: types.SimpleNamespace(logic=(lambda l=l: l)) for n, l in logics.items()})
    sys.modules["qt"] = _qt_module()
    slm = types.ModuleType("slicer.ScriptedLoadableModule")
    for c in (ScriptedLoadableModule, ScriptedLoadableModuleWidget, ScriptedLoadableModuleLogic, ScriptedLoadableModuleTest):
        setattr(slm, c.__name__, c)
    pnw = types.ModuleType("slicer.parameterNodeWrapper")
    pnw.Choice, pnw.parameterNodeWrapper = Choice, parameterNodeWrapper
    sys.modules["slicer.ScriptedLoadableModule"], sys.modules["slicer.parameterNodeWrapper"] = slm, pnw
    slicer.ScriptedLoadableModule, slicer.parameterNodeWrapper = slm, pnw
    env = Environment(scene, logics, app)
    env.appLogic = appLogic  # the logics hold it without a reference: it must live as long as they do

    @vtk.calldata_type(vtk.VTK_OBJECT)
    def onNodeAdded(caller, event, node):  # what Slicer's subject hierarchy plugin logic does
        if node.IsA("vtkMRMLDisplayableNode") or node.IsA("vtkMRMLTableNode"):
            if not node.GetHideFromEditors():
                sh = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
                if sh.GetItemByDataNode(node) == 0:
                    sh.CreateItem(sh.GetSceneItemID(), node)

    env._observerTag = scene.AddObserver(slicer.vtkMRMLScene.NodeAddedEvent, onNodeAdded)
    env._observer = onNodeAdded

    def dialog(kind):
        def ask(text, *args, **kwargs):
            env.dialogs.append((kind, text))
            return env.answers.get("confirm", True)
        return ask

    for name in ("confirmOkCancelDisplay", "confirmYesNoDisplay"):
        setattr(slicer.util, name, dialog(name))
    slicer.util.errorDisplay = dialog("errorDisplay")
    slicer.util.infoDisplay = dialog("infoDisplay")
    slicer.util.pip_install = lambda requirements: env.dialogs.append(("pip_install", requirements))
    _ENV = env
    return env
