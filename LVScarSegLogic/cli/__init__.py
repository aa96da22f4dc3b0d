"""The ``lvscarseg`` command line (contract: ../shared/CONTRACT.md): parser.py declares it,
commands.py runs each command; this file dispatches and turns failures into exit codes.

Exit codes: 0 success; 2 bad input or usage (one line on stderr naming the file and the
problem, no output written); 3 written, but the quality verdict is "failed"; 1 unexpected
internal error; 130 interrupted; 143 terminated (SIGTERM).
"""
from __future__ import annotations

import os
import sys
from typing import List, Optional

from ..errors import InputError
from .commands import COMMANDS
from .parser import build_parser, join_point_values


class Terminated(Exception):
    """SIGTERM (e.g. the Slicer module's Cancel): unwind so that temporary outputs are removed."""


def _exit_cleanly_on_sigterm() -> None:
    import signal
    import threading

    def handler(signum, frame):
        raise Terminated()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(join_point_values(list(sys.argv[1:] if argv is None else argv)))
    if not args.command:
        parser.print_help()
        return 2
    from ..progress import Progress

    progress = Progress(enabled=not args.quiet)
    _exit_cleanly_on_sigterm()
    try:
        return COMMANDS[args.command](args, progress)
    except InputError as exc:
        sys.stderr.write(f"lvscarseg: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("lvscarseg: interrupted\n")
        return 130
    except Terminated:
        sys.stderr.write("lvscarseg: terminated; no output written\n")
        return 143
    except BrokenPipeError:  # output piped into `head` and closed early: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except MemoryError:
        sys.stderr.write("lvscarseg: error: out of memory\n")
        return 1
    except OSError as exc:  # the disk, not the engine: full, read-only or not ours to write
        import errno

        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
            where = f"{exc.filename}: " if exc.filename else ""
            sys.stderr.write(f"lvscarseg: error: {where}cannot write ({exc.strerror}); no output was written\n")
            return 2
        return _internal_error(exc)
    except Exception as exc:  # an engine bug: say so, and show the traceback on request
        return _internal_error(exc)


def _internal_error(exc: Exception) -> int:
    if os.environ.get("LVSCARSEG_DEBUG"):
        raise exc
    sys.stderr.write(f"lvscarseg: internal error: {type(exc).__name__}: {exc} "
                     "(set LVSCARSEG_DEBUG=1 for the traceback; please report it)\n")
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
