"""The module's logic: the parameter node and whether it can run, the jobs (export the inputs,
run the engine through the injected runner, import what came back), and the packages the engine
needs in Slicer's Python. The widget (LVScarSeg.py) drives it; the self-test and the MRML tests
run it without a GUI. Scene work is in scene.py, processes in runner.py, command lines in command.py.
"""
import json
import os
import shutil
import sys
import tempfile
from typing import Annotated, Optional

import slicer
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleLogic
from slicer.parameterNodeWrapper import Choice, parameterNodeWrapper

from LVScarSegLib import command, paths, scene
from LVScarSegLib import runner as runners  # the module: Slicer's Reload re-imports it

# The engine sits beside the module (source tree: a sibling folder; installed: copied next to
# LVScarSeg.py).
ENGINE_ROOT = paths.engine_root(paths.MODULE_DIR)
if ENGINE_ROOT and ENGINE_ROOT not in sys.path:
    sys.path.insert(0, ENGINE_ROOT)

# What the engine needs in Slicer's Python (import name -> pip requirement; a test holds it to
# pyproject.toml's dependencies). torch comes from the PyTorch extension (PyTorchUtils), never pip.
ENGINE_REQUIREMENTS = {"numpy": "numpy>=1.21", "scipy": "scipy>=1.7", "SimpleITK": "SimpleITK>=2.2",
                       "sklearn": "scikit-learn>=1.0", "skimage": "scikit-image>=0.19", "maxflow": "PyMaxflow>=1.2.13",
                       "safetensors": "safetensors>=0.4", "nrrd": "pynrrd>=1.0", "slicerio": "slicerio>=1.4",
                       "matplotlib": "matplotlib>=3.5", "PIL": "pillow>=9", "pydicom": "pydicom>=2.3"}
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
    writeDicom: bool = False  # also a DICOM SEG and SR of the result, into Slicer's DICOM database
    # set from code (SET_FROM_CODE: combo boxes filled from the registry, generated parameter widgets)
    myocardiumSegmentID: str = ""
    myocardiumMethod: str = ""
    scarMethod: str = ""
    methodParams: str = "{}"  # JSON: {method key: {param: value}}


# The parameter node's fields the widget sets from code; every other field has a widget in the .ui.
SET_FROM_CODE = ("myocardiumSegmentID", "myocardiumMethod", "scarMethod", "methodParams")


class LVScarSegModuleLogic(ScriptedLoadableModuleLogic):
    """Exports inputs, runs the engine, imports the results. Named ...ModuleLogic because
    ``LVScarSegLogic`` is the engine package. ``runner``: what runs the engine (ProcessRunner)."""

    def __init__(self, runner=None):
        ScriptedLoadableModuleLogic.__init__(self)
        self.moduleName = "LVScarSeg"  # the base class would derive "LVScarSegModule" from the class name
        self.runner = runner or runners.ProcessRunner()
        self.progressCallback = lambda percent, message: None
        self.finishedCallback = lambda ok, message, report, bullseye, text: None
        scene.load_terminology()

    def getParameterNode(self):
        return LVScarSegParameterNode(super().getParameterNode())

    @staticmethod
    def python():
        return shutil.which("PythonSlicer") or sys.executable

    @staticmethod
    def methods():
        from LVScarSegLogic.methods import registry

        defaults = {t: registry.default_method(t) for t in ("scar", "myocardium")}
        return [m.to_json(default=defaults.get(m.target) == m.name) for m in registry.methods()]

    def isValid(self, p, myocardiumMethod=None):
        """(True, "") when Apply can run with these parameters, else (False, why, in one sentence)."""
        if not p or not p.inputVolume:
            return False, "Select the LGE volume."
        if p.inputVolume.IsA("vtkMRMLLabelMapVolumeNode"):
            return False, f"{p.inputVolume.GetName()} is a label map: select the LGE image."
        if p.inputVolume.GetImageData() is None:
            return False, f"{p.inputVolume.GetName()} has no image data."
        if p.myocardiumSegmentation:
            try:
                scene.wall_segments(p.myocardiumSegmentation, p.myocardiumSegmentID)
            except ValueError as exc:
                return False, str(exc)
        elif not myocardiumMethod:
            return False, "Select a myocardium segmentation or a myocardium model."
        if p.writeDicom and not scene.dicom_source_files(p.inputVolume):
            return False, (f"{p.inputVolume.GetName()} was not loaded from the DICOM database: a DICOM SEG needs its "
                           "source series (untick the DICOM option, or load the series from DICOM).")
        return True, ""

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
        return self.runner.isRunning()

    def cancel(self):
        self.runner.cancel()

    def startSegmentation(self, p, myocardiumMethod, scarMethod, paramValues):
        ok, why = self.isValid(p, myocardiumMethod)
        if not ok:
            raise ValueError(why)
        volume = p.inputVolume

        def build(folder):
            image = scene.export_volume(volume, os.path.join(folder, "image.nrrd"))
            names = {image: volume.GetName()}  # exported file -> the reader's node, for error messages
            myocardium = remote = None
            if p.myocardiumSegmentation:
                myocardium = scene.export_segmentation(p.myocardiumSegmentation, volume,
                                                       os.path.join(folder, "myocardium.seg.nrrd"),
                                                       scene.wall_segments(p.myocardiumSegmentation, p.myocardiumSegmentID))
                names[myocardium] = p.myocardiumSegmentation.GetName()
            if p.remoteSegmentation:
                remote = scene.export_mask(p.remoteSegmentation, volume, os.path.join(folder, "remote.nrrd"))
                names[remote] = p.remoteSegmentation.GetName()
            dicom = {}
            if p.writeDicom:  # the SEG and SR refer to the volume's own DICOM series
                dicom = {"dicom_source": scene.link_dicom_source(scene.dicom_source_files(volume),
                                                                 os.path.join(folder, "dicom-source")),
                         "dicom_seg": os.path.join(folder, "result_seg.dcm"),
                         "dicom_sr": os.path.join(folder, "result_sr.dcm")}
            params = {}
            for values in paramValues.values():
                params.update(values)
            cmd = command.segment_command(
                self.python(), image, os.path.join(folder, "result.seg.nrrd"), os.path.join(folder, "report.json"),
                myocardium=myocardium, myocardium_method=myocardiumMethod, scar_method=scarMethod, params=params,
                seeds_ras=scene.points_in_volume_frame(p.seeds, volume),
                rv_insertion_ras=scene.points_in_volume_frame(p.rvInsertion, volume), remote=remote,
                device=p.device, bullseye=os.path.join(folder, "bullseye.png"),
                lv_center_ras=(scene.points_in_volume_frame(p.lvCenter, volume) or [None])[0], models=p.models, **dicom)
            return cmd, names
        self._start(p, "segment", build)

    def startMeasure(self, p):
        def build(folder):
            image, seg = self._exportResult(p, folder)
            return command.measure_command(self.python(), image, seg, os.path.join(folder, "report.json"),
                                           scene.points_in_volume_frame(p.rvInsertion, p.inputVolume),
                                           os.path.join(folder, "bullseye.png")), {}
        self._start(p, "measure", build)

    def startCompare(self, p, methods):
        def build(folder):
            image, seg = self._exportResult(p, folder)
            return command.compare_command(self.python(), image, seg, methods, os.path.join(folder, "compare.json"),
                                           os.path.join(folder, "consensus.seg.nrrd"), p.device, p.models), {}
        self._start(p, "compare", build)

    @staticmethod
    def _exportResult(p, folder):
        if not (p.inputVolume and p.outputSegmentation):
            raise ValueError("Run Apply first: there is no result segmentation to measure.")
        return (scene.export_volume(p.inputVolume, os.path.join(folder, "image.nrrd")),
                scene.export_segmentation(p.outputSegmentation, p.inputVolume, os.path.join(folder, "current.seg.nrrd")))

    def _start(self, p, kind, build):
        """Export into a new job folder (build(folder) -> (argv, {file: node name})) and start the
        engine; the folder is removed when the job ends, or at once when it cannot start."""
        if self.isRunning():
            raise RuntimeError("a run is in progress")
        folder = tempfile.mkdtemp(prefix="LVScarSeg-", dir=slicer.app.temporaryPath)
        try:
            cmd, names = build(folder)
            env = {"PYTHONPATH": ENGINE_ROOT} if ENGINE_ROOT else {}
            if p.device == "cpu":
                env["CUDA_VISIBLE_DEVICES"] = "-1"
            job = {"kind": kind, "folder": folder, "parameterNode": p, "names": names}
            self.runner.start(cmd, env, lambda percent, message: self.progressCallback(percent, message),
                              lambda code, crashed, stderr, stdout, cancelled: self._finished(job, code, crashed, stderr,
                                                                                              stdout, cancelled))
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def _finished(self, job, exitCode, crashed, stderr, stdout, cancelled):
        folder, p = job["folder"], job["parameterNode"]
        try:
            if cancelled:
                self.finishedCallback(False, "cancelled", None, None, stdout)
                return
            # exit 3: the result is written but its quality verdict is "failed": it is loaded and shown as such
            if crashed or exitCode not in (0, 3):
                message = command.error_message(stderr, -1 if crashed else exitCode)
                for path, name in job["names"].items():  # the reader's node, not the deleted job file
                    message = message.replace(path, name)
                self.finishedCallback(False, message, None, None, stdout)
                return
            with open(os.path.join(folder, "compare.json" if job["kind"] == "compare" else "report.json")) as f:
                report = json.load(f)
            if job["kind"] == "compare":
                scene.show_comparison(p.inputVolume, report, os.path.join(folder, "consensus.seg.nrrd"))
                self.finishedCallback(True, "Comparison finished.", report, None, stdout)
                return
            if job["kind"] == "segment":
                self.importResult(p, os.path.join(folder, "result.seg.nrrd"), report)
                for key in ("dicom_seg", "dicom_sr"):  # the database keeps its own copy: the job folder goes
                    if key in report:
                        slicer.dicomDatabase.insert(report[key]["path"])
                        stdout += f"\n{key.replace('_', ' ').upper()} added to the DICOM database"
            scene.measurements_table(report)
            verdict = report.get("quality", {}).get("status", "ok")
            self.finishedCallback(True, "Done." if verdict == "ok" else f"Done - quality {verdict.upper()}.", report,
                                  os.path.join(folder, "bullseye.png"), stdout)
        except Exception as exc:  # shown to the user with the log, never only in the console
            self.finishedCallback(False, f"could not load the result: {exc}", None, None, stdout)
        finally:  # the callbacks have loaded what they need (nodes, the bull's-eye pixmap)
            shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def importResult(p, segPath, report):
        volume = p.inputVolume
        node = scene.load_result_segmentation(segPath, f"{volume.GetName()} LV scar ({report['methods']['scar']['name']})",
                                              volume)
        node.CreateClosedSurfaceRepresentation()
        previous = p.outputSegmentation
        # only a result this module made is replaced, never a reader's segmentation or an input
        if (p.replacePrevious and previous is not None and previous.GetAttribute(scene.RESULT_ATTRIBUTE) == "result"
                and previous not in (p.myocardiumSegmentation, p.remoteSegmentation)):
            scene.remove_nodes(previous)
        p.outputSegmentation = node
        return node
