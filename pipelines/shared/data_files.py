"""Finding the data a run reads: files matching a pattern under a folder (local, or an object store's URI
through TFX's file system layer), the spans of a `{SPAN}` pattern, the CSV files a command is given, and the
one reader of a CSV file's header. Standard library only, so that config checks need not import pyarrow.

Spans: `{SPAN}` in the file pattern, as in TFX's input configs.
A pattern such as `span-{SPAN}/*.csv` matches `span-1/a.csv`, `span-02/b.csv`, ...; the span is the number.
TFX's ExampleGen driver picks the newest span and records it on the Examples artifact; these functions
find the files of the spans a run reads (the newest, or the newest N for a training window).
"""
from __future__ import annotations

import csv
import glob
import os
import re

from pipelines.shared import artifact_files

SPAN = "{SPAN}"
EARLIER_SPANS = "earlier_spans"  # the split holding a training window's spans before the newest


def has_spans(pattern: str) -> bool:
    return SPAN in pattern


def span_regex(pattern: str) -> re.Pattern:
    """The regex of a pattern's paths, with the span's digits as group 1 (glob's * and ? within a name)."""
    before, after = pattern.split(SPAN, 1)

    def glob_to_regex(text: str) -> str:
        return "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in text)

    return re.compile(glob_to_regex(before) + r"(\d+)" + glob_to_regex(after) + "$")


def _files(pattern: str) -> list[str]:
    """Files (not folders) matching a glob pattern, sorted; a URI through TFX's file system layer."""
    if artifact_files.is_uri(pattern):
        fileio = artifact_files.fileio()
        return sorted(f for f in fileio.glob(pattern) if not fileio.isdir(f))
    return [f for f in artifact_files.glob(pattern) if os.path.isfile(f)]


def matching_files(input_base: str, pattern: str) -> list[str]:
    """The files matching a pattern (no span in it) under input_base; FileNotFoundError when there is none."""
    files = _files(os.path.join(input_base, pattern))
    if not files:
        raise FileNotFoundError(f"no file matches {pattern!r} in {input_base}")
    return files


def files_by_span(input_base: str, pattern: str) -> dict[int, list[str]]:
    """{span number: sorted files} for every span present under input_base."""
    regex = span_regex(pattern)
    found: dict[int, list[str]] = {}
    for path in _files(os.path.join(input_base, pattern.replace(SPAN, "*"))):
        match = regex.match(path[len(input_base.rstrip("/")) + 1:])
        if match:
            found.setdefault(int(match.group(1)), []).append(path)
    return {span: sorted(files) for span, files in sorted(found.items())}


def window(spans: dict[int, list[str]], newest: int, size: int) -> dict[int, list[str]]:
    """The `size` newest spans present up to and including `newest` (gaps in the numbering are skipped)."""
    kept = [span for span in spans if span <= newest][-size:]
    return {span: spans[span] for span in kept}


def input_files(input_base: str, pattern: str, span_window: int = 1) -> list[str]:
    """The files a run ingests: the pattern's, or the newest span_window spans' (none is not an error here)."""
    if not has_spans(pattern):
        return _files(os.path.join(input_base, pattern))
    found = files_by_span(input_base, pattern)
    newest = max(found, default=None)
    return [] if newest is None else [f for files in window(found, newest, span_window).values() for f in files]


def csv_files(data: str) -> list[str]:
    """The CSV files a command is given: a file, or every .csv file in a folder."""
    if os.path.isdir(data):
        files = sorted(os.path.join(data, f) for f in os.listdir(data) if f.endswith(".csv"))
        if not files:
            raise FileNotFoundError(f"{data}: no .csv file in this folder")
        return files
    if not os.path.isfile(data):
        raise FileNotFoundError(f"{data}: no such file or folder")
    return [data]


def files_under(folder: str) -> list[str]:
    """Every file in a local folder and its subfolders, hidden ones (a writer's temporary files) left out."""
    return sorted(f for f in glob.glob(os.path.join(folder, "**", "*"), recursive=True)
                  if os.path.isfile(f) and not os.path.basename(f).startswith("."))


def read_header(path: str) -> list[str]:
    """The column names on a CSV file's first line, as ExampleGen reads them (a UTF-8 byte-order mark is not
    part of the first name; names are not trimmed); none for an empty file. OSError when it cannot be read."""
    with artifact_files.open_file(path, "rb") as f:
        first_line = f.readline()
    return next(csv.reader([first_line.decode("utf-8-sig", errors="replace")]), [])
