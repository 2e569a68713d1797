"""The one base of the project's errors. Each says what went wrong in words a user acts on, and carries the
exit code the CLI returns for it; the CLI maps them in one place (pipelines/cli/errors.py)."""
from __future__ import annotations


class MlopsError(Exception):
    """An error the user can act on: its message is printed as it is, without a traceback."""

    exit_code = 1


class UsageError(MlopsError):
    """A command, config or argument that cannot be used (a bad config is one)."""

    exit_code = 2
