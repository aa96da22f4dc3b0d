"""The module's self-test (Slicer: Developer mode -> Reload and Test, or ctest py_LVScarSeg; also
run by Testing/test_slicer_mrml.py on slicer-core): a phantom through the real logic and engine,
n-SD in the given wall, an edit that must lower the scar, and the fully automatic models when
PyTorch is installed. A mixin of LVScarSeg.py's LVScarSegTest (a ScriptedLoadableModuleTest)."""
import os
import tempfile

import slicer

from LVScarSegLib.logic import LVScarSegModuleLogic


class LVScarSegSelfTest:
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
            logic.runner.wait(100)
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
