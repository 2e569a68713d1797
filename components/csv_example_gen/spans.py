"""Data that arrives in spans: `{SPAN}` in the file pattern, as in TFX's input configs (standard library only,
so that config checks need not import pyarrow).

A pattern such as `span-{SPAN}/*.csv` matches `span-1/a.csv`, `span-02/b.csv`, ...; the span is the number.
TFX's ExampleGen driver picks the newest span and records it on the Examples artifact; these functions
find the files of the spans a run reads (the newest, or the newest N for a training window).
"""
from __future__ import annotations

import glob
import os
import re

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


def files_by_span(input_base: str, pattern: str, glob_fn=None, isdir_fn=None) -> dict[int, list[str]]:
    """{span number: sorted files} for every span present under input_base. glob_fn/isdir_fn: TFX's
    file system layer for URIs (gs://...); the local file system by default."""
    glob_fn = glob_fn or glob.glob
    isdir_fn = isdir_fn or os.path.isdir
    regex = span_regex(pattern)
    found: dict[int, list[str]] = {}
    for path in glob_fn(os.path.join(input_base, pattern.replace(SPAN, "*"))):
        relative = path[len(input_base.rstrip("/")) + 1:]
        match = regex.match(relative)
        if match and not isdir_fn(path):
            found.setdefault(int(match.group(1)), []).append(path)
    return {span: sorted(files) for span, files in sorted(found.items())}


def window(spans: dict[int, list[str]], newest: int, size: int) -> dict[int, list[str]]:
    """The `size` newest spans present up to and including `newest` (gaps in the numbering are skipped)."""
    kept = [span for span in spans if span <= newest][-size:]
    return {span: spans[span] for span in kept}
