"""Writes Resources/UI/LVScarSeg.ui (Qt Designer XML) — how the first version was made; edit the
.ui in Qt Designer from now on, or change this script and rerun it: python scripts/generate_ui.py"""
def w(cls, name, props="", extra=""):
    return f'<widget class="{cls}" name="{name}">{props}{extra}</widget>'
def prop(name, kind, value):
    return f'<property name="{name}"><{kind}>{value}</{kind}></property>'
def dyn(param):
    return f'<property name="SlicerParameterName" stdset="0"><string>{param}</string></property>'
def node_combo(name, classes, param, none=True, tip=""):
    items = "".join(f"<string>{c}</string>" for c in classes)
    p = f'<property name="nodeTypes" stdset="0"><stringlist notr="true">{items}</stringlist></property>'
    p += prop("noneEnabled", "bool", "true" if none else "false") + prop("addEnabled", "bool", "false")
    p += prop("removeEnabled", "bool", "false") + prop("toolTip", "string", tip)
    if param:
        p += dyn(param)
    return w("qMRMLNodeComboBox", name, p)
count = [0]
def form_row(i, label, widget):
    count[0] += 1
    return (f'<item row="{i}" column="0">{w("QLabel", "label" + str(count[0]), prop("text", "string", label))}</item>'
            f'<item row="{i}" column="1">{widget}</item>')
def section(name, title, items, collapsed=False):
    p = prop("text", "string", title) + (prop("collapsed", "bool", "true") if collapsed else "")
    return f'<item>{w("ctkCollapsibleButton", name, p, items)}</item>'
def form(name, rowsxml):
    return f'<layout class="QFormLayout" name="{name}">{rowsxml}</layout>'

inputs = form("inputsFormLayout", "".join([
    form_row(0, "LGE volume:", node_combo("inputVolumeSelector", ["vtkMRMLScalarVolumeNode"], "inputVolume", none=False,
                                          tip="The late-gadolinium-enhancement volume (3D or a 2D short-axis stack).")),
    form_row(1, "Myocardium (optional):", node_combo("myocardiumSelector", ["vtkMRMLSegmentationNode"], "myocardiumSegmentation",
                                                     tip="An existing LV myocardium segmentation; empty: a model finds it.")),
    form_row(2, "Myocardium segment:", w("qMRMLSegmentSelectorWidget", "myocardiumSegmentSelector",
                                         prop("toolTip", "string", "The segment holding the LV wall (used when no segment is named myocardium, scar, ...).")
                                         + prop("segmentationNodeSelectorVisible", "bool", "false"))),
]))
combo_items = "".join(f'<item><property name="text"><string>{d}</string></property></item>' for d in ("auto", "cpu", "cuda"))
model_items = "".join(f'<item><property name="text"><string>{d}</string></property></item>' for d in ("best", "permissive"))
methods = form("methodsFormLayout", "".join([
    form_row(0, "Myocardium method:", w("QComboBox", "myocardiumMethodComboBox", prop("toolTip", "string", "Deep-learning model for the LV wall (when no myocardium is given)."))),
    form_row(1, "Scar method:", w("QComboBox", "scarMethodComboBox", prop("toolTip", "string", "Method that finds scar inside the myocardium."))),
    form_row(2, "Device:", w("QComboBox", "deviceComboBox", prop("toolTip", "string", "auto: the GPU when PyTorch sees one, else the CPU.") + dyn("device"), combo_items)),
    form_row(3, "Models:", w("QComboBox", "modelsComboBox", prop("toolTip", "string", "best: the models that measure best on real scans (today CC BY-NC-SA 4.0, non-commercial: trained on EMIDEC); permissive: BSD-licensed models only.") + dyn("models"), model_items)),
    form_row(4, "Method parameters:", w("QWidget", "methodParametersWidget", "", '<layout class="QFormLayout" name="methodParametersFormLayout"/>')),
]))
points = form("pointsFormLayout", "".join([
    form_row(0, "Seed points:", node_combo("seedsSelector", ["vtkMRMLMarkupsFiducialNode"], "seeds", tip="Seeds inside enhanced scar (FWHM, region growing).")),
    form_row(1, "Remote myocardium:", node_combo("remoteSelector", ["vtkMRMLSegmentationNode"], "remoteSegmentation", tip="Healthy (remote) myocardium for n-SD; empty: found automatically.")),
    form_row(3, "LV centre:", node_combo("lvCenterSelector", ["vtkMRMLMarkupsFiducialNode"], "lvCenter", tip="One point inside the LV cavity: the myocardium model starts there instead of searching for the LV (use it when the LV was not found).")),
    form_row(2, "RV insertion points:", node_combo("rvInsertionSelector", ["vtkMRMLMarkupsFiducialNode"], "rvInsertion", tip="Anterior and inferior RV insertion points for the AHA segments; empty: found in the image.")),
]))
output = form("outputFormLayout", "".join([
    form_row(0, "Result segmentation:", node_combo("outputSelector", ["vtkMRMLSegmentationNode"], "outputSegmentation", tip="Where the last result is; edit it with the Segment Editor.")),
    form_row(1, "", w("QCheckBox", "replaceCheckBox", prop("text", "string", "Replace the previous result (else a new node per run)") + dyn("replacePrevious"))),
    form_row(2, "", w("QCheckBox", "dicomCheckBox", prop("text", "string", "Also a DICOM SEG and SR, into the DICOM database") + prop("toolTip", "string", "For a volume loaded from DICOM: the result as a DICOM Segmentation and the measurements as a structured report (TID 1500), referencing the volume's series (needs highdicom).") + dyn("writeDicom"))),
]))
run = ('<layout class="QVBoxLayout" name="runLayout">'
       f'<item>{w("QPushButton", "applyButton", prop("text", "string", "Apply") + prop("toolTip", "string", "Run the selected methods"))}</item>'
       f'<item>{w("QProgressBar", "progressBar", prop("value", "number", "0"))}</item>'
       f'<item>{w("QLabel", "statusLabel", prop("text", "string", "Ready."))}</item>'
       '</layout>')
results = ('<layout class="QVBoxLayout" name="resultsLayout">'
           f'<item>{w("QTableWidget", "resultsTable", "")}</item>'
           f'<item>{w("QLabel", "bullseyeLabel", prop("text", "string", "(the AHA bull&apos;s-eye appears here)") + prop("alignment", "set", "Qt::AlignCenter"))}</item>'
           '<item><layout class="QHBoxLayout" name="resultButtonsLayout">'
           f'<item>{w("QPushButton", "updateMeasurementsButton", prop("text", "string", "Update measurements") + prop("toolTip", "string", "Measure the current (edited) result segmentation again"))}</item>'
           f'<item>{w("QPushButton", "compareButton", prop("text", "string", "Compare methods") + prop("toolTip", "string", "Run several scar methods in this myocardium: spread, STAPLE consensus, threshold band"))}</item>'
           '</layout></item>'
           f'<item>{w("QLineEdit", "compareMethodsLineEdit", prop("text", "string", "strm,fwhm,gmm,random-forest,cmpunet") + prop("toolTip", "string", "Scar methods to compare (comma-separated)"))}</item>'
           f'<item>{w("QPlainTextEdit", "logTextEdit", prop("readOnly", "bool", "true") + prop("maximumBlockCount", "number", "2000"))}</item>'
           '</layout>')
body = "".join([section("inputsCollapsibleButton", "Inputs", inputs), section("methodsCollapsibleButton", "Methods", methods),
                section("pointsCollapsibleButton", "Points (optional)", points, collapsed=True),
                section("outputCollapsibleButton", "Output", output),
                section("runCollapsibleButton", "Run", run), section("resultsCollapsibleButton", "Results", results)])
custom = "".join(
    f"<customwidget><class>{c}</class><extends>{e}</extends><header>{c}.h</header>{'<container>1</container>' if cont else ''}</customwidget>"
    for c, e, cont in (("ctkCollapsibleButton", "QWidget", True), ("qMRMLNodeComboBox", "QWidget", False),
                       ("qMRMLWidget", "QWidget", True), ("qMRMLSegmentSelectorWidget", "qMRMLWidget", False)))
connections = "".join(
    f"<connection><sender>LVScarSeg</sender><signal>mrmlSceneChanged(vtkMRMLScene*)</signal><receiver>{r}</receiver>"
    f"<slot>setMRMLScene(vtkMRMLScene*)</slot></connection>"
    for r in ("inputVolumeSelector", "myocardiumSelector", "myocardiumSegmentSelector", "seedsSelector", "remoteSelector",
              "rvInsertionSelector", "lvCenterSelector", "outputSelector"))
doc = ('<?xml version="1.0" encoding="UTF-8"?>\n<ui version="4.0">\n <class>LVScarSeg</class>\n'
       f' <widget class="qMRMLWidget" name="LVScarSeg"><property name="geometry"><rect><x>0</x><y>0</y><width>420</width><height>900</height></rect></property>'
       f'<layout class="QVBoxLayout" name="verticalLayout">{body}<item><spacer name="verticalSpacer"><property name="orientation"><enum>Qt::Vertical</enum></property></spacer></item></layout></widget>\n'
       f' <customwidgets>{custom}</customwidgets>\n <resources/>\n <connections>{connections}</connections>\n</ui>\n')
import xml.dom.minidom
pretty = xml.dom.minidom.parseString(doc).toprettyxml(indent=" ")
pretty = "\n".join(line for line in pretty.splitlines() if line.strip())
open("Resources/UI/LVScarSeg.ui", "w").write(pretty + "\n")
print(len(pretty.splitlines()))
