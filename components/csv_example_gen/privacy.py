"""What ExampleGen does for privacy to each batch it reads, before anything is written: plain functions and
one accumulator, no TFX types.

- dropped columns are removed, pseudonymised columns replaced by their keyed pseudonyms;
- rows whose ID pseudonym was forgotten (`mlops forget`) are left out, and counted;
- the ID column's pseudonyms are collected per input file (the per-span index `mlops forget` looks up);
- the sizes of the groups of rows sharing their quasi-identifiers' values are counted (k-anonymity).
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.shared import pseudonyms

MISSING = "\x00missing"        # a missing quasi-identifier is a value of its own when grouping


@dataclass
class Privacy:
    """The ingestion's privacy settings (ExampleGenPart's) with the key, and what it saw while writing."""

    key: Optional[pseudonyms.Key] = None
    pseudonymize: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)
    id_column: Optional[str] = None           # pseudonymised; its pseudonyms are indexed and can be forgotten
    forgotten: frozenset = frozenset()        # ID pseudonyms whose rows are left out
    quasi_identifiers: list[str] = field(default_factory=list)
    # What was seen, per input file (a file written again starts over): the ID pseudonyms written, the rows
    # per group of quasi-identifier values, the rows left out because they were forgotten.
    ids_by_file: dict[str, set] = field(default_factory=dict)
    groups_by_file: dict[str, collections.Counter] = field(default_factory=dict)
    forgotten_by_file: dict[str, int] = field(default_factory=dict)

    def start(self, path: str) -> None:
        """`path` is about to be (re)written: what was seen in it before is forgotten."""
        self.ids_by_file[path], self.groups_by_file[path], self.forgotten_by_file[path] = set(), collections.Counter(), 0

    @property
    def forgotten_rows(self) -> int:
        return sum(self.forgotten_by_file.values())

    @property
    def groups(self) -> collections.Counter:
        return sum(self.groups_by_file.values(), collections.Counter())

    def apply(self, path: str, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, np.ndarray]:
        """The batch as it may be written, and which of its rows may be written (the others were forgotten)."""
        columns, names = [], []
        for name, column in zip(batch.schema.names, batch.columns):
            if name in self.drop:
                continue
            if name in self.pseudonymize:
                if self.key is None:
                    raise ValueError("pseudonymised columns need the pseudonym key")
                column = pseudonyms.pseudonymize_array(self.key, column)
            columns.append(column)
            names.append(name)
        private = pa.RecordBatch.from_arrays(columns, names=names)
        keep = np.ones(batch.num_rows, dtype=bool)
        if self.forgotten and self.id_column in names:
            ids = private.column(names.index(self.id_column))
            keep = ~pc.fill_null(pc.is_in(ids, value_set=pa.array(sorted(self.forgotten), pa.string())), False
                                 ).to_numpy(zero_copy_only=False)
            self.forgotten_by_file[path] += int(np.sum(~keep))
        return private, keep

    def observe(self, path: str, batch: pa.RecordBatch, written: np.ndarray) -> None:
        """Records the written rows (`written`: a mask) of a batch apply() returned."""
        if self.id_column in batch.schema.names:
            ids = batch.column(batch.schema.names.index(self.id_column)).filter(pa.array(written))
            self.ids_by_file[path].update(v for v in pc.unique(ids).to_pylist() if v is not None)
        if self.quasi_identifiers:
            self.groups_by_file[path].update(group_keys(batch.filter(pa.array(written)), self.quasi_identifiers))

    def ids_by_span(self, spans_of_files: dict[str, int]) -> dict[int, list[str]]:
        by_span: dict[int, set] = {}
        for path, ids in self.ids_by_file.items():
            by_span.setdefault(spans_of_files.get(path, 0), set()).update(ids)
        return {span: sorted(ids) for span, ids in sorted(by_span.items())}


def group_keys(batch: pa.RecordBatch, columns: list[str]) -> list[tuple]:
    """Each row's tuple of quasi-identifier values (text; missing is a value of its own)."""
    values = []
    for name in columns:
        column = batch.column(batch.schema.names.index(name)) if name in batch.schema.names \
            else pa.nulls(batch.num_rows)
        values.append(pc.fill_null(pc.cast(column, pa.string()), MISSING).to_pylist())
    return list(zip(*values))


def k_anonymity(groups: collections.Counter, quasi_identifiers: list[str], small_group: int) -> dict:
    """k (the smallest group's size), the groups and rows in groups smaller than `small_group`, and their share
    of the rows; k is 0 when there is no row. Sizes only: no group's values."""
    rows = sum(groups.values())
    small = [size for size in groups.values() if size < small_group]
    return {"quasi_identifiers": list(quasi_identifiers), "k": min(groups.values(), default=0), "rows": rows,
            "groups": len(groups), "small_group": small_group, "small_groups": len(small),
            "rows_in_small_groups": sum(small), "share_in_small_groups": sum(small) / rows if rows else 0.0}
