"""The Slicer module's code below the widget. ``logic.py`` is the Slicer-side logic (parameter
node, export, background QProcess, result import). The other files import no slicer, qt or vtk:
where the engine is, the command lines the module runs, progress parsing, report -> table rows,
parameter widgets from the method registry; plain pytest tests them (Testing/test_slicer_module.py)."""
