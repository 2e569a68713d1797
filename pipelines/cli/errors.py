"""Errors to exit codes and messages, in one place: what the user can act on gets one line on stderr and the
command's exit code; anything else gets one line too, and the traceback only with MLOPS_DEBUG=1."""
from __future__ import annotations

import os
import sys
from typing import Mapping, Optional

from pipelines.shared.errors import MlopsError

EXIT_OK, EXIT_FAILED, EXIT_BAD_CONFIG = 0, 1, 2
DEBUG_ENV = "MLOPS_DEBUG"  # set to 1 to see the traceback of an unexpected error


def error_text(error: BaseException) -> str:
    """An error's message as meant: a KeyError's str() adds quotes (an OSError's str() keeps its words)."""
    return error.args[0] if isinstance(error, LookupError) and error.args else str(error)


def exit_code(error: BaseException, expected: Mapping[type, int]) -> Optional[int]:
    """The exit code of an error the user can act on, None for any other. A command's own `expected` classes
    come first (an unreadable CSV is a bad input to `init`, a failed job to `predict`), then the project's
    errors, which carry their code."""
    for kind, code in expected.items():
        if isinstance(error, kind):
            return code
    if isinstance(error, MlopsError):
        return error.exit_code
    return None


def explain(error: BaseException, expected: Mapping[type, int]) -> int:
    """Prints the error in one line and returns the exit code; re-raises with MLOPS_DEBUG=1 when unexpected."""
    code = exit_code(error, expected)
    if code is not None:
        print(f"error: {error_text(error)}", file=sys.stderr)
        return code
    if os.environ.get(DEBUG_ENV):
        raise error
    text = str(error).splitlines()[0] if str(error) else ""
    print(f"error: {type(error).__name__}: {text[:500]}\n  (not an error mlops knows how to explain: set "
          f"{DEBUG_ENV}=1 for the traceback, and please report it)", file=sys.stderr)
    return EXIT_FAILED
