"""What `mlops` shows on the terminal while libraries run: TFX, absl, Beam and TensorFlow output
goes to a log file (secrets masked), the terminal gets one line per component with its duration."""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Sequence

from pipelines.shared.masking import secret_forms


def mask_secrets(secrets: Sequence[str]) -> None:
    """From now on, every log record of this process has each secret, in every form a library may write it
    (secret_forms), replaced by ***, whichever handler writes it, including handlers made later (absl makes
    its own on first use). LocalDagRunner logs its whole connection config, MySQL password included."""
    secrets = sorted({form for s in secrets if s for form in secret_forms(s)}, key=len, reverse=True)
    if not secrets:
        return
    make_record = logging.getLogRecordFactory()

    def masked_record(*args, **kwargs):
        record = make_record(*args, **kwargs)
        message = record.getMessage()
        if any(secret in message for secret in secrets):
            for secret in secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return record

    logging.setLogRecordFactory(masked_record)


class Progress(logging.Handler):
    """Echoes LocalDagRunner's 'Component X is running/finished' lines to the terminal, with durations."""

    PATTERN = re.compile(r"Component (\S+) is (running|finished)\.")

    def __init__(self, terminal):
        super().__init__(logging.INFO)
        self.terminal, self.started = terminal, {}

    def emit(self, record):
        match = self.PATTERN.match(record.getMessage())
        if not match:
            return
        node, what = match.groups()
        if what == "running":
            self.started[node] = time.monotonic()
            print(f"  {node} ...", file=self.terminal, flush=True)
        else:
            seconds = time.monotonic() - self.started.get(node, time.monotonic())
            print(f"  {node} done in {seconds:.1f} s", file=self.terminal, flush=True)


@contextlib.contextmanager
def logs_to_file(path: Path, secrets: Sequence[str] = ()):
    """Sends TFX, absl, Beam, TensorFlow (C++ included) output to `path`; yields the terminal.

    `secrets` (the MySQL password) are masked: LocalDagRunner logs its whole connection config."""
    import absl.logging

    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(1), "w")
    log = open(path, "a")
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    file_handler = logging.StreamHandler(log)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    mask_secrets(secrets)
    root.handlers = [file_handler, Progress(terminal)]
    root.setLevel(logging.INFO)
    absl.logging.set_verbosity(absl.logging.INFO)
    try:
        yield terminal
    finally:
        root.handlers, root.level = saved_handlers, saved_level
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        os.close(saved_out)
        os.close(saved_err)
        log.close()
        terminal.close()


@contextlib.contextmanager
def quiet_libraries():
    """Keeps TensorFlow's and TFX's import-time chatter off the terminal for compile and submit."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import warnings

    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
