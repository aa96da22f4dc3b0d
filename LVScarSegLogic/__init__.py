"""LVScarSeg engine: LV myocardium and scar segmentation and measurement for LGE cardiac MRI.

Pure Python (numpy, scipy, SimpleITK, pynrrd, slicerio). Never imports slicer, qt or vtk,
and imports torch only when a deep-learning method runs. Importing this package is cheap:
sub-modules are imported where they are used.
"""

__version__ = "0.1.0"
