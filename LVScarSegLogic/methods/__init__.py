"""Segmentation methods. Each is declared once in :mod:`.registry`; its code is imported only when it runs."""
