"""Deep-learning methods: LV localization, myocardium and scar networks, training and inference.

Everything here imports torch (and MONAI for the networks); nothing outside this package
imports it, so the classical methods run without PyTorch installed. ``tasks`` alone is
torch-free: it declares each trainable model once.
"""
