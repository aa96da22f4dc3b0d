"""Pure-Python helpers of the Slicer module (no slicer, qt or vtk imports): where the engine is,
the command lines the module runs, progress parsing, report -> table rows, parameter widgets
from the method registry. Tested by plain pytest (Testing/test_slicer_module.py)."""
