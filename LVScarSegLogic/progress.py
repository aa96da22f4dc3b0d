"""Progress reporting on stderr: a bar on a terminal, one parseable line per step when piped.

Piped format (read by the Slicer module): ``PROGRESS <percent> <message>``.
"""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, stream=None, enabled: bool = True):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self._last = -1

    def __call__(self, fraction: float, message: str) -> None:
        if not self.enabled:
            return
        # never backwards: a step that reports its own 0-1 range inside a later stage (a scar
        # method after the myocardium model) keeps the bar where it was
        percent = max(int(round(100 * min(max(fraction, 0.0), 1.0))), self._last)
        if self.tty:
            filled = percent // 4
            bar = "#" * filled + "-" * (25 - filled)
            end = "\n" if percent >= 100 else ""
            self.stream.write(f"\r[{bar}] {percent:3d}% {message[:60]:<60}{end}")
        else:
            self.stream.write(f"PROGRESS {percent} {message}\n")
        self.stream.flush()
        self._last = percent

    def done(self, message: str = "done") -> None:
        self(1.0, f"{message} ({time.perf_counter() - self.start:.1f} s)")
