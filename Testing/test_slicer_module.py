"""The Slicer module, tested without Slicer: the .ui loads offscreen (PySide6), every widget the
module uses exists, every GUI-bound parameter-node field has a widget, the pure helpers work,
the module compiles for Python 3.9, and CMake lists every file it must ship."""
from __future__ import annotations

import ast
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

import pytest

from conftest import ROOT, run_cli

MODULE = ROOT / "LVScarSeg" / "LVScarSeg.py"
UI = ROOT / "Resources" / "UI" / "LVScarSeg.ui"
sys.path.insert(0, str(ROOT / "LVScarSeg"))


def _ui_names():
    tree = ET.parse(UI)
    widgets = {w.get("name"): w.get("class") for w in tree.iter("widget")}
    params = {}
    for w in tree.iter("widget"):
        for p in w.findall("property"):
            if p.get("name") == "SlicerParameterName":
                params[p.find("string").text] = w.get("name")
    return widgets, params


def test_every_widget_and_parameter_the_module_uses_is_in_the_ui():
    """Every ``ui.NAME`` the widget and its panel helpers use is in the .ui, and every parameter-node
    field is bound to exactly one widget, except the ones the code sets (logic.SET_FROM_CODE): the
    parameter node class itself is read, on Slicer's MRML (slicer-core)."""
    pytest.importorskip("slicer_core", reason="slicer-core (Slicer's MRML) is installed for Python >= 3.10 only")
    import slicer_standins

    slicer_standins.install()
    from LVScarSegLib import logic

    widgets, params = _ui_names()
    used = set()
    for path in (MODULE, ROOT / "LVScarSeg" / "LVScarSegLib" / "panel.py"):
        used |= set(re.findall(r"\bui\.(\w+)", path.read_text()))
    assert used and used <= set(widgets), sorted(used - set(widgets))
    fields = set(logic.LVScarSegParameterNode.allParameters)
    assert set(logic.SET_FROM_CODE) <= fields
    assert set(params) == fields - set(logic.SET_FROM_CODE), (sorted(params), sorted(fields))


@pytest.mark.skipif(sys.version_info < (3, 10), reason="PySide6 is installed for Python >= 3.10 only (see Makefile)")
def test_ui_loads_offscreen_and_the_panel_renders(tmp_path):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QFile
    from PySide6.QtUiTools import QUiLoader
    from PySide6.QtWidgets import QApplication, QWidget

    app = QApplication.instance() or QApplication([])
    f = QFile(str(UI))
    assert f.open(QFile.ReadOnly)
    panel = QUiLoader().load(f)
    f.close()
    assert panel is not None
    names = {w.objectName() for w in panel.findChildren(QWidget)}
    widgets, params = _ui_names()
    assert set(widgets) - {"LVScarSeg"} <= names  # Slicer classes fall back to their Qt base classes
    assert panel.findChild(QWidget, "deviceComboBox").property("SlicerParameterName") == "device"
    sys.path.insert(0, str(ROOT / "scripts"))
    from render_panel import render

    out = render(str(tmp_path / "panel.png"))
    from PIL import Image
    import numpy as np

    with Image.open(out) as im:
        assert im.size[0] > 300 and im.size[1] > 600
        assert len(np.unique(np.asarray(im.convert("L")))) > 20
    app.processEvents()


def test_module_compiles_for_python_39():
    for path in [MODULE] + sorted((ROOT / "LVScarSeg" / "LVScarSegLib").glob("*.py")):
        src = path.read_text()
        ast.parse(src, filename=str(path), feature_version=(3, 9))
        compile(src, str(path), "exec")
        # no PEP 604 unions (X | None) in annotations: Slicer 5.8 evaluates them on Python 3.9
        assert not re.search(r":\s*\w+\s*\|\s*None", src), path


def test_command_lines_progress_errors_and_report_rows(lowres_case, tmp_path):
    from LVScarSegLib import command

    cmd = command.segment_command("PythonSlicer", "img.nrrd", "out.seg.nrrd", "r.json", myocardium_method="cmpunet",
                                  scar_method="strm", params={"n": 4.0, "endo_guard": False},
                                  seeds_ras=[(-1.5, 2, 3)], rv_insertion_ras=[(1, 2, 3)], device="cpu",
                                  bullseye="b.png")
    assert cmd[:4] == ["PythonSlicer", "-m", "LVScarSegLogic", "segment"]
    assert "--myocardium-method" in cmd and "--param" in cmd and "n=4.0" in cmd and "endo_guard=false" in cmd
    assert "--seed=-1.5,2,3" in cmd and "--rv-insertion=1,2,3" in cmd
    # the command the module builds is accepted by the real command line parser
    args = command.segment_command("x", str(lowres_case["image"]), str(tmp_path / "o.seg.nrrd"), str(tmp_path / "r.json"),
                                   myocardium=str(lowres_case["label"]), scar_method="strm", params={"n": 4.0},
                                   seeds_ras=[], rv_insertion_ras=[], device="cpu", bullseye=str(tmp_path / "b.png"))
    r = run_cli("--quiet", *args[3:])
    assert r.code == 0, r.err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["methods"]["scar"]["params"]["n"] == 4.0 and (tmp_path / "b.png").exists()
    rows = command.report_rows(report)
    assert rows[0][0] == "LV myocardium" and any(r[0].startswith("AHA 17 apex") for r in rows)
    assert len(command.aha_table(report)) == 17
    assert command.parse_progress("PROGRESS 42 scar: strm") == (42, "scar: strm")
    assert command.parse_progress("warning: x") is None
    assert command.error_message("PROGRESS 5 reading\nlvscarseg: error: a.nrrd: file not found\n", 2) == \
        "a.nrrd: file not found"
    assert command.error_message("", 143) == "cancelled"
    m = command.measure_command("p", "i.nrrd", "s.seg.nrrd", "r.json", [(0, 0, 0)], "b.png")
    assert m[3] == "measure" and "--rv-insertion=0,0,0" in m


def test_lv_centre_model_set_and_licenses_reach_the_engine_and_the_user():
    """The LV-centre markup and the model set go on the command line (the centre only when the
    myocardium is automatic); a report whose LV is in doubt asks for the centre; every model's
    license is shown, a non-commercial one said so."""
    from LVScarSegLib import command

    cmd = command.segment_command("p", "i.nrrd", "o.seg.nrrd", "r.json", lv_center_ras=(-10.5, 20, 3),
                                  models="permissive")
    assert "--lv-center=-10.5,20,3" in cmd and cmd[cmd.index("--models") + 1] == "permissive"
    given = command.segment_command("p", "i.nrrd", "o.seg.nrrd", "r.json", myocardium="m.nrrd",
                                    lv_center_ras=(1, 2, 3))
    assert not any(a.startswith("--lv-center") for a in given)
    assert command.compare_command("p", "i", "m", ["strm", "fwhm"], "r.json", models="permissive")[-1] == "permissive"
    doubt = {"methods": {"myocardium": {"name": "cmpunet"}},
             "warnings": ["the LV found does not look like an LV to the cmpunet myocardium model (score 0.8)"]}
    assert command.lv_in_doubt(doubt)
    assert not command.lv_in_doubt({"methods": {"myocardium": {"name": "given"}}, "warnings": doubt["warnings"]})
    assert not command.lv_in_doubt({"methods": {"myocardium": {"name": "cmpunet"}}, "warnings": []})
    failed = {"methods": {"myocardium": {"name": "cmpunet"}}, "warnings": [],
              "quality": {"status": "failed", "reasons": ["LV wall of 0.1 mL"]}}
    assert command.lv_in_doubt(failed) and command.quality_text(failed) == "Quality FAILED: LV wall of 0.1 mL"
    assert command.quality_text({"quality": {"status": "ok", "reasons": []}}) == ""
    lines = command.license_lines({"models": [{"name": "a-emidec", "license": "CC-BY-NC-SA-4.0"},
                                              {"name": "b", "license": "BSD-3-Clause"}]})
    assert "non-commercial" in lines[0] and lines[1] == "model b: license BSD-3-Clause"


def test_parameter_widgets_come_from_the_registry():
    from LVScarSegLib import widgets

    methods = json.loads(run_cli("methods", "--json").out)
    strm = next(m for m in methods if m["name"] == "strm")
    specs = {s["name"]: s for s in widgets.widget_specs(strm)}
    assert specs["n"]["kind"] == "double" and specs["n"]["min"] == 2.0 and specs["n"]["max"] == 6.0
    assert specs["statistics"]["kind"] == "combo" and "slice" in specs["statistics"]["choices"]
    assert specs["endo_guard"]["kind"] == "check" and specs["n"]["tooltip"]


def test_engine_is_found_beside_the_module_in_both_layouts(tmp_path):
    from LVScarSegLib import paths

    assert paths.engine_root(str(ROOT / "LVScarSeg")) == str(ROOT)  # source tree: siblings
    installed = tmp_path / "qt-scripted-modules"
    (installed / "LVScarSegLogic").mkdir(parents=True)
    (installed / "LVScarSegLogic" / "__init__.py").write_text("")
    assert paths.engine_root(str(installed)) == str(installed)  # installed: copied next to the module
    assert paths.engine_root(str(tmp_path / "elsewhere")) is None
    assert paths.resource_path(str(ROOT / "LVScarSeg"), "UI", "LVScarSeg.ui") == str(UI)


def test_cmake_lists_every_file_the_extension_ships():
    text = (ROOT / "LVScarSeg" / "CMakeLists.txt").read_text()
    listed = set(re.findall(r"^\s+(\S+\.(?:py|ui|png|json|md|safetensors))\s*$", text, flags=re.M))
    engine = {str(p.relative_to(ROOT)) for p in (ROOT / "LVScarSegLogic").rglob("*.py")}
    models = {str(p.relative_to(ROOT)) for p in (ROOT / "Resources" / "Models").iterdir()}
    lib = {str(p.relative_to(ROOT / "LVScarSeg")) for p in (ROOT / "LVScarSeg" / "LVScarSegLib").glob("*.py")}
    expected = engine | models | lib | {"Resources/UI/LVScarSeg.ui", "Resources/Icons/LVScarSeg.png",
                                          "Resources/Terminologies/LVScarSeg.term.json"}
    assert expected <= listed, sorted(expected - listed)
    assert "slicerMacroBuildScriptedModule" in text and "WITH_GENERIC_TESTS" in text
    assert "slicer_add_python_unittest" in text
    top = (ROOT / "CMakeLists.txt").read_text()
    assert "project(LVScarSeg)" in top and 'EXTENSION_CATEGORY "Cardiac"' in top


def test_the_packages_the_module_installs_are_the_engines_dependencies():
    """ENGINE_REQUIREMENTS (what the module pip-installs in Slicer) cannot drift from pyproject.toml."""
    import ast as _ast

    tree = _ast.parse((ROOT / "LVScarSeg" / "LVScarSegLib" / "logic.py").read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, _ast.Assign) and getattr(node.targets[0], "id", "") in ("ENGINE_REQUIREMENTS", "DL_REQUIREMENTS"):
            found[node.targets[0].id] = _ast.literal_eval(node.value)
    text = (ROOT / "pyproject.toml").read_text()
    deps = re.findall(r'^\s+"([^"]+)",?\s*$', text.split("dependencies = [", 1)[1].split("]", 1)[0], flags=re.M)
    assert sorted(found["ENGINE_REQUIREMENTS"].values()) == sorted(deps)
    assert set(found["DL_REQUIREMENTS"].values()) <= set(re.findall(r'"(monai[^"]*)"', text))
