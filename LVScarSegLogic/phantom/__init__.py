"""Synthetic 3D LGE-MRI phantom with ground truth (EMIDEC codes).

anatomy.py: the heart in its own frame (LV, scar, papillary muscles, RV, LA, aortic root,
epicardial fat); body.py: chest tissues; imaging.py: sampling on an image grid with partial
volume, bias field and Rician noise; cases.py: random case parameters, protocols, files.
"""
