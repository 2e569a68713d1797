"""Publishing a pushed model version atomically: plain file-system functions."""
from __future__ import annotations

import os
import shutil


def publish(staged_version_dir: str, serving_dir: str) -> str:
    """Moves a complete version folder into the serving folder with one rename; returns its new path.

    A crash before the rename leaves only the staging folder; after it, a complete version.
    """
    final = os.path.join(serving_dir, os.path.basename(staged_version_dir))
    if os.path.exists(final):
        raise FileExistsError(f"{final} already exists: a version is never overwritten")
    os.rename(staged_version_dir, final)
    return final


def discard(staging: str) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    parent = os.path.dirname(staging)
    if os.path.isdir(parent) and not os.listdir(parent):
        os.rmdir(parent)
