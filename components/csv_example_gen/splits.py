"""CSV files to split, gzipped TFRecord files of tf.Examples: plain functions, no TFX types.

Why not TFX's CsvExampleGen: it decodes rows in Python and splits and writes them one by one through
Beam (191 s for 1M taxi rows here, against 0.4 s for pyarrow's reader), and it has no notion of null
markers such as the penguins' "NA". Here each file is read in batches with pyarrow, each row's split
comes from a vectorized hash of its values, each batch is encoded to tf.Examples at once, and the
records are framed and compressed in bulk: memory stays flat whatever the size of the file.
"""
from __future__ import annotations

import os
import struct
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO, Optional, Sequence

import google_crc32c
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from absl import logging
from pyarrow import csv
from tfx_bsl.coders import example_coder

from components.csv_example_gen.privacy import Privacy
from pipelines.shared import artifact_files
from pipelines.shared.csv_tables import (
    BATCH_BYTES,
    TypesChangeInFile,
    UnreadableCsv,
    arrow_types,
    csv_source,
    first_value_not_of_type,
    open_stream,
    read_batches,
    read_csv,
    table_to_record_batch,
)
from pipelines.shared.data_files import read_header

# Serialized examples per file. Multi-process Beam gives each worker whole files (gzip cannot be split): at
# 250k rows, 4 eval files instead of 1 took the Evaluator from 120 s to 71 s with 2 workers.
SHARD_BYTES = 8 << 20


def row_splits(batch: pa.RecordBatch, hash_buckets: list[int]) -> np.ndarray:
    """Each row's split (an index into hash_buckets), as TFX's hash buckets assign them: a fingerprint of
    the row modulo the total number of buckets, each split owning a run of buckets. The fingerprint is
    pandas' SipHash of the row's values with its fixed key: the same in every process and every run
    (TFX's fingerprints the serialized example, whose feature order varies between processes)."""
    fingerprints = pd.util.hash_pandas_object(batch.to_pandas(), index=False).to_numpy()
    buckets = fingerprints % np.uint64(sum(hash_buckets))
    return np.searchsorted(np.cumsum(hash_buckets), buckets, side="right")


def count_rows(files: list[str]) -> int:
    """Data rows in all files, for the eval cap: only the first column is converted (0.45 s for 1M rows)."""
    total = 0
    convert = csv.ConvertOptions(include_columns=["f0"], column_types={"f0": pa.string()})
    for path in files:
        with csv_source(path) as (source, threads):
            # The header read as a row (the first column is then "f0" in every file), and taken off.
            read = csv.ReadOptions(block_size=BATCH_BYTES, use_threads=threads, autogenerate_column_names=True)
            try:
                rows = sum(batch.num_rows for batch in csv.open_csv(source, read_options=read, convert_options=convert))
            except pa.ArrowInvalid:  # an empty file; any other fault is reported when the file is read for real
                rows = 1
            total += max(rows - 1, 0)
    return total


CAPPED_BUCKETS = 10_000  # the resolution of a capped split: 0.01% of the rows


def capped_hash_buckets(hash_buckets: list[int], capped: int, rows: int, max_rows: Optional[int]) -> list[int]:
    """The hash buckets that give split `capped` at most about max_rows of `rows`, the other splits sharing
    the rest in their ratio; hash_buckets unchanged when the split's share is already under the cap (so
    small data splits exactly as TFX's hash buckets would)."""
    if max_rows is None or rows * hash_buckets[capped] <= max_rows * sum(hash_buckets):
        return list(hash_buckets)
    kept = max(1, CAPPED_BUCKETS * max_rows // rows)
    others = sum(b for i, b in enumerate(hash_buckets) if i != capped)
    buckets = [kept if i == capped else (CAPPED_BUCKETS - kept) * b // others for i, b in enumerate(hash_buckets)]
    buckets[max(i for i in range(len(buckets)) if i != capped)] += CAPPED_BUCKETS - sum(buckets)
    return buckets


def _masked_crc(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord_frames(records: list[bytes]) -> bytes:
    """Records in TFRecord framing: length, its masked CRC32C, the data, its masked CRC32C."""
    parts: list[bytes] = []
    for record in records:
        length = struct.pack("<Q", len(record))
        parts += (length, struct.pack("<I", _masked_crc(length)), record, struct.pack("<I", _masked_crc(record)))
    return b"".join(parts)


class SplitWriter:
    """Gzipped TFRecord files in one folder: data_tfrecord-00000-of-0000N.gz, a new file every SHARD_BYTES.

    Compression runs on a background thread (zlib releases the GIL), in order, while the caller
    encodes the next batch. Files are named -of-N when closed.
    """

    def __init__(self, directory: str, shard_bytes: int = SHARD_BYTES, level: int = 1):
        artifact_files.fileio().makedirs(directory)
        self.directory, self.shard_bytes, self.level = directory, shard_bytes, level
        self.paths: list[str] = []
        self.records = 0
        self._file: Optional[BinaryIO] = None
        self._compressor: Optional[Any] = None  # zlib's compressor object
        self._written = 0
        self._background = ThreadPoolExecutor(max_workers=1)
        self._pending: Optional[Future] = None

    def write(self, records: list[bytes]) -> None:
        if not records:
            return
        frames = tfrecord_frames(records)
        self.records += len(records)
        if self._pending is not None:
            self._pending.result()  # one batch in flight at most: memory stays bounded
        self._pending = self._background.submit(self._append, frames)

    def _append(self, frames: bytes) -> None:
        file, compressor = self._file, self._compressor
        if file is None or compressor is None or self._written >= self.shard_bytes:
            self._finish_file()
            self.paths.append(os.path.join(self.directory, f"data_tfrecord-{len(self.paths):05d}.gz"))
            file = self._file = open_stream(self.paths[-1], "wb")
            compressor = self._compressor = zlib.compressobj(self.level, zlib.DEFLATED, 31)  # 31: a gzip stream
            self._written = 0
        file.write(compressor.compress(frames))
        self._written += len(frames)

    def _finish_file(self) -> None:
        if self._file is not None and self._compressor is not None:
            self._file.write(self._compressor.flush())
            self._file.close()
            self._file = None

    def close(self) -> list[str]:
        if self._pending is not None:
            self._pending.result()
        self._background.shutdown()
        self._finish_file()
        if not self.paths:  # a split with no rows still gets a (valid, empty) file, as Beam writes one
            self._append(b"")
            self._finish_file()
        final = [f"{path[:-len('.gz')]}-of-{len(self.paths):05d}.gz" for path in self.paths]
        for old, new in zip(self.paths, final):
            artifact_files.fileio().rename(old, new)
        self.paths = final
        return final


@dataclass
class Written:
    """Per split: examples written, and rows left out because their label was missing."""
    rows: list[int]
    unlabelled: list[int]


def labelled_rows(batch: pa.RecordBatch, label_columns: Sequence[str]) -> np.ndarray:
    """Which rows have a value in every column the label is computed from (all rows when there is none).
    A row without its label is neither a class nor a value: it must not be trained or evaluated on."""
    keep = np.ones(batch.num_rows, dtype=bool)
    for name in label_columns:
        if name not in batch.schema.names:
            return np.zeros(batch.num_rows, dtype=bool)
        keep &= pc.is_valid(batch.column(name)).to_numpy(zero_copy_only=False)
    return keep


def write_splits(files: list[str], null_values: list[str], split_dirs: list[str], hash_buckets: list[int],
                 block_size: int = BATCH_BYTES, label_columns: Sequence[str] = (),
                 value_types: Optional[dict[str, str]] = None, privacy: Optional[Privacy] = None,
                 row_column: Optional[str] = None) -> Written:
    """Reads every file in batches and writes each row, as a serialized tf.Example, to its split's folder;
    rows missing a value in one of `label_columns` are counted, not written. `value_types` (the schema's
    {column: FLOAT|INT|BYTES}) fixes how those columns are read; a file where a cell does not fit its
    type has that column inferred instead (text, which the schema check then reports). A file whose
    inferred types change after its first batch is read whole once to infer them (as pyarrow's read_csv
    does), and the writing starts over. `privacy`: what is dropped, pseudonymised and forgotten before a row
    is hashed to its split and written, and what it records of the rows written. `row_column`: a column
    numbering the rows (1, 2, ... over the files in order), for data to score that has no ID column."""
    column_types: dict[str, dict] = {path: arrow_types(value_types, read_header(path)) for path in files} \
        if value_types else {}
    for _ in range(len(files) * (len(value_types or {}) + 1) + 1):  # each retry settles a column or a file
        try:
            return _write_splits_once(files, null_values, split_dirs, hash_buckets, block_size, column_types,
                                      label_columns, privacy, row_column)
        except TypesChangeInFile as change:
            forced = column_types.get(change.path, {})
            misfit = first_value_not_of_type(change.path, null_values,
                                             {n: k for n, k in value_types.items() if n in forced}) \
                if forced and value_types else None
            if misfit:
                forced.pop(misfit.column)
                logging.warning("%s; the column is read as text for this file", misfit.without_value())
            else:
                inferred = read_csv(change.path, null_values).schema
                column_types[change.path] = {**{f.name: f.type for f in inferred}, **forced}
            for directory in split_dirs:
                artifact_files.fileio().rmtree(directory)
    raise UnreadableCsv(f"cannot settle the column types of {', '.join(files)}")


def _write_splits_once(files, null_values, split_dirs, hash_buckets, block_size, column_types,
                       label_columns, privacy, row_column=None) -> Written:
    encoder = example_coder.RecordBatchToExamplesEncoder()
    writers = [SplitWriter(directory) for directory in split_dirs]
    unlabelled = [0] * len(writers)
    rows_read = 0
    try:
        for path in files:
            if privacy is not None:
                privacy.start(path)
            for batch in read_batches(path, null_values, block_size, column_types.get(path)):
                if row_column is not None:
                    numbers = pa.array(np.arange(rows_read + 1, rows_read + 1 + batch.num_rows, dtype=np.int64))
                    batch = pa.RecordBatch.from_arrays([*batch.columns, numbers], [*batch.schema.names, row_column])
                rows_read += batch.num_rows
                allowed = np.ones(batch.num_rows, dtype=bool)
                if privacy is not None:  # before the split's hash: a dropped value must not decide anything
                    batch, allowed = privacy.apply(path, batch)
                splits = row_splits(batch, hash_buckets)
                labelled = labelled_rows(batch, label_columns)
                if not labelled.all():
                    unlabelled = [n + int(np.sum(~labelled & allowed & (splits == i))) for i, n in enumerate(unlabelled)]
                splits = np.where(labelled & allowed, splits, -1)
                if privacy is not None:
                    privacy.observe(path, batch, splits >= 0)
                examples = encoder.encode(table_to_record_batch(batch))
                for index, writer in enumerate(writers):
                    writer.write([examples[i] for i in np.flatnonzero(splits == index)])
    finally:
        for writer in writers:
            writer.close()
    return Written([writer.records for writer in writers], unlabelled)
