"""The Slicer module's code below the widget. Slicer-side: logic.py (parameter node, isValid, jobs),
scene.py (export, import, tables on MRML), runner.py (the engine's QProcess), panel.py (the panel's
Qt parts), selftest.py. Without slicer, qt or vtk (plain pytest tests them): paths.py (where the
engine is), command.py (command lines, progress and error parsing, report rows), widgets.py
(parameter-widget specs from the method registry)."""
