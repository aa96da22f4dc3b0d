"""Render the module panel from Resources/UI/LVScarSeg.ui offscreen with PySide6 (no Slicer).

Slicer's own widgets are replaced by their nearest Qt look-alikes (ctkCollapsibleButton ->
QGroupBox, qMRMLNodeComboBox -> QComboBox showing the node type), so the picture shows the
layout, not a Slicer screenshot. Method combos and parameter widgets are filled from the engine's
registry as the module does.

    python scripts/render_panel.py Resources/Media/panel_layout.png
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "LVScarSeg"))

STAND_INS = {"ctkCollapsibleButton": "QGroupBox", "qMRMLNodeComboBox": "QComboBox",
             "qMRMLSegmentSelectorWidget": "QComboBox", "qMRMLWidget": "QWidget"}


def preview_ui_xml(text: str) -> str:
    """The .ui with Slicer widget classes swapped for Qt stand-ins (for rendering only)."""
    for slicer_class, qt_class in STAND_INS.items():
        text = text.replace(f'class="{slicer_class}"', f'class="{qt_class}"')
    text = re.sub(r"<customwidgets>.*</customwidgets>", "", text, flags=re.S)
    text = re.sub(r"<connections>.*</connections>", "<connections/>", text, flags=re.S)
    # a group box shows its "title"; ctkCollapsibleButton uses "text"
    return re.sub(r'(<widget class="QGroupBox" name="\w+">\s*<property name=")text(")', r"\1title\2", text)


def render(out_path: str) -> str:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QByteArray, QBuffer
    from PySide6.QtUiTools import QUiLoader
    from PySide6.QtWidgets import QApplication, QComboBox, QDoubleSpinBox, QLabel, QWidget

    from LVScarSegLib import widgets
    from LVScarSegLogic.methods import registry

    app = QApplication.instance() or QApplication([])
    xml = preview_ui_xml((ROOT / "Resources" / "UI" / "LVScarSeg.ui").read_text(encoding="utf-8"))
    buf = QBuffer()
    buf.setData(QByteArray(xml.encode("utf-8")))
    panel = QUiLoader().load(buf)
    placeholders = {"inputVolumeSelector": "case_000 (LGE)", "myocardiumSelector": "None",
                    "myocardiumSegmentSelector": "", "seedsSelector": "None", "remoteSelector": "None",
                    "rvInsertionSelector": "RV insertion points", "outputSelector": "case_000 LV scar (cmpunet)"}
    for name, text in placeholders.items():
        panel.findChild(QComboBox, name).addItem(text)
    defaults = {t: registry.default_method(t) for t in ("scar", "myocardium")}
    for combo_name, target in (("myocardiumMethodComboBox", "myocardium"), ("scarMethodComboBox", "scar")):
        combo = panel.findChild(QComboBox, combo_name)
        for m in registry.methods(target):
            combo.addItem(m.name + (" (default)" if defaults[target] == m.name else ""))
        combo.setCurrentIndex([m.name for m in registry.methods(target)].index(defaults[target]))
    form = panel.findChild(QWidget, "methodParametersWidget").layout()
    scar = registry.get(defaults["scar"], "scar").to_json()
    for spec in widgets.widget_specs(scar):
        w = QDoubleSpinBox() if spec["kind"] == "double" else QLabel(str(spec["default"]))
        if spec["kind"] == "double":
            w.setValue(float(spec["default"]))
        w.setToolTip(spec["tooltip"])
        form.addRow(spec["label"] + ":", w)
    panel.findChild(QLabel, "statusLabel").setText("Ready. (layout rendered offscreen from the .ui file)")
    panel.resize(440, 1050)
    panel.show()
    app.processEvents()
    image = panel.grab()
    image.save(out_path)
    return out_path


if __name__ == "__main__":
    print(render(sys.argv[1] if len(sys.argv) > 1 else "panel_layout.png"))
