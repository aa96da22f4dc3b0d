"""Running the engine in the background: a QProcess whose PROGRESS lines and end are passed on,
and Cancel (SIGTERM to the whole process tree). The logic is given a runner (tests may give it
another one), so nothing else in the module touches processes."""
import logging
import os

import qt
import slicer

from LVScarSegLib import command


class ProcessRunner:
    """One engine run at a time. ``start(cmd, env, onProgress, onFinished)``: onProgress(percent,
    message) for each PROGRESS line; onFinished(exitCode, crashed, stderr, stdout, cancelled) once."""

    def __init__(self):
        self.process = None
        self._stderr, self._tail, self._cancelled = "", "", False
        self._onProgress = self._onFinished = None

    def isRunning(self):
        return self.process is not None and self.process.state() != qt.QProcess.NotRunning

    def wait(self, msecs):
        """Block up to ``msecs`` for the run to end (its signals are delivered meanwhile)."""
        if self.process is not None:
            self.process.waitForFinished(msecs)

    def start(self, cmd, env, onProgress, onFinished):
        if self.isRunning():
            raise RuntimeError("a run is in progress")
        self._stderr, self._tail, self._cancelled = "", "", False
        self._onProgress, self._onFinished = onProgress, onFinished
        # parented to the application: Python must not delete it while it sends its own signals
        self.process = qt.QProcess(slicer.app)
        environment = qt.QProcessEnvironment.systemEnvironment()
        for name, value in env.items():
            if name == "PYTHONPATH" and environment.contains("PYTHONPATH"):
                value = os.pathsep.join([value, environment.value("PYTHONPATH")])
            environment.insert(name, value)
        self.process.setProcessEnvironment(environment)
        self.process.connect("readyReadStandardError()", self._readStderr)
        self.process.connect("finished(int,QProcess::ExitStatus)", self._finished)
        logging.info("LVScarSeg: " + " ".join(cmd))
        self.process.start(cmd[0], cmd[1:])
        if not self.process.waitForStarted(10000):
            reason = self.process.errorString()
            self.process.deleteLater()
            self.process = None
            raise RuntimeError(f"could not start {cmd[0]}: {reason}")

    def _readStderr(self):
        text = self.process.readAllStandardError().data().decode("utf-8", "replace")
        self._stderr += text
        lines = (self._tail + text).split("\n")
        self._tail = lines.pop()  # a line can arrive in pieces: keep the unfinished end
        for line in lines:
            parsed = command.parse_progress(line)
            if parsed:
                self._onProgress(*parsed)

    def _finished(self, exitCode, exitStatus):
        if self.process is None:
            return
        stdout = self.process.readAllStandardOutput().data().decode("utf-8", "replace")
        self._readStderr()
        process, self.process = self.process, None
        process.deleteLater()
        crashed = exitStatus != qt.QProcess.NormalExit  # the exit code means nothing after a crash
        self._onFinished(exitCode, crashed, self._stderr, stdout, self._cancelled)

    def cancel(self):
        """Stop the run: SIGTERM lets the engine remove its temporary files (exit 143). PythonSlicer
        is a launcher whose child is the real Python, so the whole tree is signalled."""
        if not self.isRunning():
            return
        self._cancelled = True
        children = []
        try:
            import psutil

            children = psutil.Process(int(self.process.processId())).children(recursive=True)
            for child in children:
                child.terminate()
        except Exception:  # psutil missing or the process just ended: the launcher gets the signal
            pass
        self.process.terminate()
        if not self.process.waitForFinished(5000):
            for child in children:
                try:
                    child.kill()
                except Exception:
                    pass
            self.process.kill()
            self.process.waitForFinished(2000)
