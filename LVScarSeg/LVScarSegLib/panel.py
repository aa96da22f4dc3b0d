"""The panel's Qt side, apart from the widget's wiring: method combo boxes and parameter widgets
made from the engine's registry (specs in widgets.py), the results table, the bull's-eye and the
LV-centre prompt. ``ui`` is the widget's ``slicer.util.childWidgetVariables`` of the .ui."""
import json
import os

import qt
import slicer

from LVScarSegLib import command, widgets


HELP = ("Segments the LV myocardium and myocardial scar (gray zone, MVO) in LGE cardiac MRI with classical methods "
        "(n-SD, FWHM, ...) or deep-learning models, and measures them (AHA 17 segments, transmurality). "
        "The result is an ordinary segmentation: edit it with the Segment Editor, then press Update measurements. "
        "Research use only.")


def prepare(ui, methods):
    """The method combo boxes filled, the results table's columns named."""
    fill_method_combos(ui, methods)
    ui.resultsTable.setColumnCount(3)
    ui.resultsTable.setHorizontalHeaderLabels(["Measurement", "Value", "Unit"])


def fill_method_combos(ui, methods):
    """Each target's methods in its combo box (data: the name; tooltip: the summary), the default chosen."""
    for combo, target in ((ui.myocardiumMethodComboBox, "myocardium"), (ui.scarMethodComboBox, "scar")):
        combo.clear()
        for m in (m for m in methods if m["target"] == target):
            combo.addItem(m["name"] + (" (default)" if m["default"] else ""), m["name"])
            combo.setItemData(combo.count - 1, m["summary"], qt.Qt.ToolTipRole)
            if m["default"]:
                combo.setCurrentIndex(combo.count - 1)


def choose_methods(ui, myocardiumMethod, scarMethod):
    """Select the parameter node's methods in the combo boxes (when they are still offered)."""
    for combo, value in ((ui.myocardiumMethodComboBox, myocardiumMethod), (ui.scarMethodComboBox, scarMethod)):
        if value and combo.findData(value) >= 0:
            combo.setCurrentIndex(combo.findData(value))


def show_wall_segment(ui, node, segmentID):
    """A given myocardium: its segments offered (the remembered one chosen); no myocardium model."""
    ui.myocardiumSegmentSelector.setCurrentNode(node)
    if node and segmentID and node.GetSegmentation().GetSegment(segmentID):
        ui.myocardiumSegmentSelector.setCurrentSegmentID(segmentID)
    ui.myocardiumMethodComboBox.enabled = node is None


def chosen_method(ui, methods, target):
    combo = ui.myocardiumMethodComboBox if target == "myocardium" else ui.scarMethodComboBox
    return next((m for m in methods if m["target"] == target and m["name"] == combo.currentData), None)


def needs_torch(ui, methods, withMyocardiumModel):
    """Whether the chosen scar method (and myocardium model, when one runs) needs PyTorch."""
    targets = ("scar", "myocardium") if withMyocardiumModel else ("scar",)
    return any("torch" in m.get("needs", ()) for m in (chosen_method(ui, methods, t) for t in targets) if m)


def _widget_for(spec, value):
    kind = spec["kind"]
    if kind == "check":
        w = qt.QCheckBox()
        w.checked = bool(value)
    elif kind == "spin":
        w = qt.QSpinBox()
        w.minimum, w.maximum = int(spec.get("min", -10**6)), int(spec.get("max", 10**6))
        w.value = int(value)
    elif kind == "double":
        w = qt.QDoubleSpinBox()
        w.decimals = spec["decimals"]
        w.minimum, w.maximum = float(spec.get("min", -1e6)), float(spec.get("max", 1e6))
        w.singleStep = spec["step"]
        w.value = float(value)
    elif kind == "combo":
        w = qt.QComboBox()
        w.addItems(spec["choices"])
        w.currentText = str(value)
    else:
        w = qt.QLineEdit(str(value))
    w.toolTip = spec["tooltip"]
    return w


def build_parameter_widgets(layout, chosen, savedJson):
    """Widgets for the chosen methods' parameters ({key: method json}; key ``NAME`` for scar,
    ``myocardium.NAME``), values from the parameter node's JSON. Returns {(key, name): (widget, spec)}."""
    while layout.count():
        item = layout.takeAt(0)
        if item.widget():
            item.widget().deleteLater()
    saved = json.loads(savedJson or "{}")
    made = {}
    for key, method in chosen.items():
        for spec in widgets.widget_specs(method):
            w = _widget_for(spec, saved.get(key, {}).get(spec["name"], spec["default"]))
            layout.addRow(f"{spec['label']}:", w)
            made[(key, spec["name"])] = (w, spec)
    return made


def parameter_widgets_for(ui, methods, wallGiven, savedJson):
    """The chosen scar method's parameter widgets, and the myocardium model's unless a wall is given."""
    chosen = {}
    for target in ("scar",) if wallGiven else ("myocardium", "scar"):
        m = chosen_method(ui, methods, target)
        if m:
            chosen[("myocardium." if target == "myocardium" else "") + m["name"]] = m
    return build_parameter_widgets(ui.methodParametersWidget.layout(), chosen, savedJson)


def parameter_values(made):
    """{key: {parameter: value}} as the widgets hold them."""
    values = {}
    for (key, name), (w, spec) in made.items():
        kind = spec["kind"]
        values.setdefault(key, {})[name] = (w.checked if kind == "check" else w.value if kind in ("spin", "double")
                                            else w.currentText if kind == "combo" else w.text)
    return values


def show_report(ui, report, message):
    """The results table, warnings, verdict and licenses in the log; the status line (returned)."""
    rows = command.report_rows(report)
    ui.resultsTable.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            ui.resultsTable.setItem(r, c, qt.QTableWidgetItem(text))
    ui.resultsTable.resizeColumnsToContents()
    for w in report.get("warnings", []):
        ui.logTextEdit.appendPlainText(f"warning: {w}")
    verdict = command.quality_text(report)
    if verdict:
        ui.logTextEdit.appendPlainText(verdict)
        message = f"{message}  {verdict}"
    licenses = command.license_lines(report)
    for line in licenses:
        ui.logTextEdit.appendPlainText(line)
    ui.statusLabel.text = message + ("  " + "; ".join(licenses) if licenses else "")
    return ui.statusLabel.text


def show_bullseye(label, path):
    pixmap = qt.QPixmap(path)
    label.setPixmap(pixmap.scaledToWidth(min(400, pixmap.width()), qt.Qt.SmoothTransformation))


def ask_for_lv_center(ui, p):
    """The engine doubts the LV it found: offer the one-click fix, a point in the LV cavity."""
    if not slicer.util.confirmYesNoDisplay(
            "LVScarSeg is not sure it found the left ventricle (see the warnings in the log).\n\n"
            "Click once inside the LV cavity, then press Apply again: the model starts there.\n\nPlace the point now?"):
        return
    if p.lvCenter is None:
        p.lvCenter = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "LV centre")
    p.lvCenter.RemoveAllControlPoints()
    ui.pointsCollapsibleButton.collapsed = False
    slicer.modules.markups.logic().SetActiveListID(p.lvCenter)  # the point goes into this list
    slicer.modules.markups.logic().StartPlaceMode(0)  # one click, then back to the normal mode


def show_can_apply(ui, validity, p):
    """Apply enabled when the parameters are valid (why not, as its tooltip); Update measurements
    and Compare when there is a result on a volume."""
    ok, why = validity
    ui.applyButton.enabled = ok
    ui.applyButton.toolTip = why or "Run the selected methods in the background (Cancel stops them)"
    ui.updateMeasurementsButton.enabled = ui.compareButton.enabled = bool(p and p.outputSegmentation and p.inputVolume)


def set_running(ui, running, status):
    """Apply turns into Cancel while the engine runs; the other buttons wait."""
    ui.applyButton.text = "Cancel" if running else "Apply"
    ui.applyButton.enabled = True
    ui.updateMeasurementsButton.enabled = ui.compareButton.enabled = not running
    ui.statusLabel.text = status
    if running:
        ui.progressBar.value = 0


def show_progress(ui, percent, message):
    ui.progressBar.value, ui.statusLabel.text = percent, message
    ui.logTextEdit.appendPlainText(f"{percent:3d}% {message}")


def show_finished(ui, p, ok, message, report, bullseyePath, extraText):
    """What a finished job shows: the engine's output in the log; an error popup (not for Cancel);
    the report and bull's-eye; the LV-centre prompt when the engine doubts the LV it found."""
    if extraText:
        ui.logTextEdit.appendPlainText(extraText)
    if not ok:
        if message != "cancelled":
            slicer.util.errorDisplay(f"LVScarSeg: {message}", detailedText=ui.logTextEdit.toPlainText())
        return
    if report:
        show_report(ui, report, message)
        if command.lv_in_doubt(report):
            ask_for_lv_center(ui, p)
    if bullseyePath and os.path.exists(bullseyePath):
        show_bullseye(ui.bullseyeLabel, bullseyePath)
