"""CSV files to split, gzipped TFRecord files of tf.Examples: plain functions, no TFX types.

Why not TFX's CsvExampleGen: it decodes rows in Python and splits and writes them one by one through
Beam (191 s for 1M taxi rows here, against 0.4 s for pyarrow's reader), and it has no notion of null
markers such as the penguins' "NA". Here each file is read in batches with pyarrow, each row's split
comes from a vectorized hash of its values, each batch is encoded to tf.Examples at once, and the
records are framed and compressed in bulk: memory stays flat whatever the size of the file.
Types are inferred per column as CsvExampleGen does: a column holding any non-number becomes
a string column, which the schema check then reports.
"""
from __future__ import annotations

import glob
import io
import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import google_crc32c
from absl import logging
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv
from tfx_bsl.coders import example_coder

from components import artifact_files
from components.csv_example_gen import spans

BATCH_BYTES = 16 << 20       # CSV bytes read at a time; types are inferred from the first batch of a file
# Serialized examples per file. Multi-process Beam gives each worker whole files (gzip cannot be split): at
# 250k rows, 4 eval files instead of 1 took the Evaluator from 120 s to 71 s with 2 workers.
SHARD_BYTES = 8 << 20

class _RawReader(io.RawIOBase):
    """A TFX/TensorFlow file as a standard binary stream, which pyarrow reads (GFile lacks `closed`)."""

    def __init__(self, source):
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._source.close()
        super().close()


def _open(path: str, mode: str):
    if not artifact_files.is_uri(path):
        return open(path, mode)
    source = artifact_files.fileio().open(path, mode)
    return io.BufferedReader(_RawReader(source)) if "r" in mode else source


@contextmanager
def _csv_source(path: str):
    """What pyarrow's CSV reader reads: a local path as such, which pyarrow reads natively; a URI through
    TFX's file system layer. A Python file must not be read ahead on pyarrow's threads: they need the GIL,
    and a reader dropped before its end waits for them while holding it (a deadlock seen at 1M rows)."""
    if not artifact_files.is_uri(path):
        yield path, True
    else:
        with _open(path, "rb") as source:
            yield source, False


def matching_files(input_base: str, pattern: str) -> list[str]:
    if artifact_files.is_uri(input_base):
        fileio = artifact_files.fileio()
        found = [f for f in fileio.glob(os.path.join(input_base, pattern)) if not fileio.isdir(f)]
    else:
        found = [f for f in glob.glob(os.path.join(input_base, pattern)) if os.path.isfile(f)]
    files = sorted(found)
    if not files:
        raise FileNotFoundError(f"no file matches {pattern!r} in {input_base}")
    return files


def files_by_span(input_base: str, pattern: str) -> dict[int, list[str]]:
    if artifact_files.is_uri(input_base):
        return spans.files_by_span(input_base, pattern, artifact_files.fileio().glob, artifact_files.fileio().isdir)
    return spans.files_by_span(input_base, pattern)


class UnreadableCsv(ValueError):
    """A CSV file pyarrow cannot parse; the message names the file, the line and shows it printably."""


def _convert_options(null_values: list[str], column_types: Optional[dict] = None) -> csv.ConvertOptions:
    return csv.ConvertOptions(
        null_values=null_values, strings_can_be_null=True,
        timestamp_parsers=[],  # keep date-like text as text: tf.Example has no timestamp type
        column_types=column_types or {},
    )


# tf.Example's value types as the schema names them, and the Arrow type a CSV column is read as for each:
# a FLOAT column written `30` is still a float, an INT column is never a float, text stays text ("007").
ARROW_TYPES = {"FLOAT": pa.float64(), "INT": pa.int64(), "BYTES": pa.string()}


def arrow_types(value_types: Optional[dict[str, str]], header: list[str]) -> dict:
    """{column: Arrow type} of the columns of `header` that value_types ({column: FLOAT|INT|BYTES}) names."""
    return {name: ARROW_TYPES[kind] for name, kind in (value_types or {}).items() if name in header}


class ValueNotOfType(ValueError):
    """A cell that cannot be read as its column's type; the message names file, line, column and type."""

    def __init__(self, path: str, column: str, kind: str, line: int, value: str):
        super().__init__(f"{path}, line {line}, column {column!r}: {printable(value)!r} is not "
                         f"{'a number' if kind == 'FLOAT' else 'a whole number' if kind == 'INT' else 'text'} "
                         f"(the schema's type for it is {kind})")
        self.path, self.column = path, column


def first_value_not_of_type(path: str, null_values: list[str], value_types: dict[str, str]) -> Optional[ValueNotOfType]:
    """The first cell of the file that its column's type cannot hold; None when every cell fits. Each
    column is converted whole; only a column that fails is searched cell by cell."""
    convert = csv.ConvertOptions(null_values=null_values, strings_can_be_null=True,
                                 column_types={n: pa.string() for n in value_types})
    with _open(path, "rb") as source:
        table = csv.read_csv(source, convert_options=convert)
    for name, kind in value_types.items():
        if name not in table.column_names or kind == "BYTES" or fits(table.column(name), kind):
            continue
        for row, text in enumerate(table.column(name).to_pylist()):
            if not fits(pa.array([text], pa.string()), kind):
                return ValueNotOfType(path, name, kind, row + 2, text)  # line 1 is the header
    return None


def fits(texts, kind: str) -> bool:
    """Whether every text converts to the schema type `kind`."""
    try:
        texts.cast(ARROW_TYPES[kind])
        return True
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False


def read_csv(path: str, null_values: list[str], value_types: Optional[dict[str, str]] = None) -> pa.Table:
    """A whole file at once (for small files and previews; ingestion reads in batches). `value_types`
    ({column: FLOAT|INT|BYTES}, the schema's): those columns are read as such, and a cell that does not
    fit is a ValueNotOfType naming its line."""
    types = arrow_types(value_types, read_header(path)) if value_types else None
    try:
        if artifact_files.is_uri(path):
            with _open(path, "rb") as source:
                return csv.read_csv(source, convert_options=_convert_options(null_values, types))
        return csv.read_csv(path, convert_options=_convert_options(null_values, types))
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        if types and "conversion error" in str(error):
            found = first_value_not_of_type(path, null_values, {n: value_types[n] for n in types})
            if found:
                raise found from None
        raise UnreadableCsv(unreadable_message(path, error)) from None


def read_header(path: str) -> list[str]:
    """The column names of a CSV file (none for an empty file)."""
    try:
        with _csv_source(path) as (source, threads):
            reader = csv.open_csv(source, read_options=csv.ReadOptions(use_threads=threads),
                                  convert_options=csv.ConvertOptions(include_columns=[]))
            return list(reader.schema.names)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return []


class TypesChangeInFile(Exception):
    """A column's values stop fitting the type inferred from the file's first batch (e.g. a word in a
    column of numbers further down): the file needs its types inferred from all of it."""

    def __init__(self, path: str):
        super().__init__(path)
        self.path = path


def read_batches(path: str, null_values: list[str], block_size: int = BATCH_BYTES,
                 column_types: Optional[dict] = None) -> Iterator[pa.RecordBatch]:
    """A file as record batches of about block_size bytes of CSV each. Types are inferred from the first
    batch except those given ({column: Arrow type}); TypesChangeInFile when a batch does not fit them."""
    convert = _convert_options(null_values, column_types)
    batches = 0
    try:
        with _csv_source(path) as (source, threads):
            reader = csv.open_csv(source, read_options=csv.ReadOptions(block_size=block_size, use_threads=threads),
                                  convert_options=convert)
            for batch in reader:
                batches += 1
                if batch.num_rows:
                    yield batch
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        if (batches or column_types) and "conversion error" in str(error):
            raise TypesChangeInFile(path) from None
        raise UnreadableCsv(unreadable_message(path, error)) from None


COMPRESSED = ((b"\x1f\x8b", "gzip", "gunzip"), (b"PK\x03\x04", "zip", "unzip"), (b"BZh", "bzip2", "bunzip2"),
              (b"\xfd7zX", "xz", "unxz"))


def compressed_message(path: str) -> Optional[str]:
    """What to do with a compressed file a CSV reader would take for garbage; None for any other file."""
    try:
        with _open(path, "rb") as f:
            magic = f.read(4)
    except OSError:
        return None
    return next((f"{path} is {kind}-compressed: decompress it first ({tool} {path})"
                 for signature, kind, tool in COMPRESSED if magic.startswith(signature)), None)


def unreadable_message(path: str, error: Exception) -> str:
    """pyarrow's reason (without the raw row it echoes), the first bad line's number and a printable excerpt;
    for a compressed file, that it is."""
    compressed = compressed_message(path)
    if compressed:
        return compressed
    reason = str(error).split(":", 2)
    reason = ":".join(reason[:2]).strip() if len(reason) > 2 else str(error)
    line_number, excerpt = first_bad_line(path)
    where = f"line {line_number}: " if line_number else ""
    return f"{path}: cannot read as CSV: {where}{printable(reason)}" + (f"; the line: {excerpt}" if excerpt else "")


def first_bad_line(path: str, limit: int = 120) -> tuple[int, str]:
    """(1-based line number, printable excerpt) of the first line that is not text or has another number
    of fields than the header; (0, "") when none is found."""
    import csv as text_csv
    import io

    with _open(path, "rb") as f:
        lines = f.read().split(b"\n")
    width = None
    for number, raw in enumerate(lines, start=1):
        if not raw.strip() and number == len(lines):
            break
        try:
            fields = next(text_csv.reader(io.StringIO(raw.decode("utf-8"))), [])
            if "\0" in raw.decode("utf-8"):
                raise ValueError("NUL byte")
        except (UnicodeDecodeError, ValueError, text_csv.Error):
            return number, printable(raw.decode("utf-8", "backslashreplace"))[:limit]
        if width is None:
            width = len(fields)
        elif len(fields) != width:
            return number, printable(raw.decode("utf-8"))[:limit]
    return 0, ""


def printable(text: str) -> str:
    """Control and undecodable characters shown as escapes, never written raw to a terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _example_values(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A column in one of tf.Example's three value types: int64, float32, bytes."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = array.type
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        return array.cast(pa.int64())
    if pa.types.is_floating(kind):
        return array.cast(pa.float32())
    if pa.types.is_null(kind):  # a column with no value at all
        return array.cast(pa.binary())
    return array.cast(pa.string()).cast(pa.binary())


def to_list_array(values: pa.Array) -> pa.ListArray:
    """One value per row; a missing cell becomes a null list, so the feature is absent from that example."""
    valid = pc.is_valid(values).to_numpy(zero_copy_only=False)
    offsets = np.concatenate([[0], np.cumsum(valid)]).astype(np.int32)
    present = values.filter(pa.array(valid))
    return pa.ListArray.from_arrays(pa.array(offsets), present, mask=pa.array(~valid))


def table_to_record_batch(table: pa.Table | pa.RecordBatch) -> pa.RecordBatch:
    """The Arrow form TFX libraries use for tf.Examples: one list per cell."""
    names = table.schema.names
    columns = [to_list_array(_example_values(table.column(name))) for name in names]
    return pa.RecordBatch.from_arrays(columns, names=names)


def table_to_examples(table: pa.Table) -> list[bytes]:
    return example_coder.RecordBatchToExamplesEncoder().encode(table_to_record_batch(table))


def csv_to_examples(path: str, null_values: list[str], value_types: Optional[dict[str, str]] = None) -> list[bytes]:
    return table_to_examples(read_csv(path, null_values, value_types))


# --- splitting ----------------------------------------------------------------------------


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
        with _csv_source(path) as (source, threads):
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


# --- writing ------------------------------------------------------------------------------


def _masked_crc(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord_frames(records: list[bytes]) -> bytes:
    """Records in TFRecord framing: length, its masked CRC32C, the data, its masked CRC32C."""
    parts = []
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
        self._file = self._compressor = None
        self._written = 0
        self._background = ThreadPoolExecutor(max_workers=1)
        self._pending = None

    def write(self, records: list[bytes]) -> None:
        if not records:
            return
        frames = tfrecord_frames(records)
        self.records += len(records)
        if self._pending is not None:
            self._pending.result()  # one batch in flight at most: memory stays bounded
        self._pending = self._background.submit(self._append, frames)

    def _append(self, frames: bytes) -> None:
        if self._file is None or self._written >= self.shard_bytes:
            self._finish_file()
            self.paths.append(os.path.join(self.directory, f"data_tfrecord-{len(self.paths):05d}.gz"))
            self._file = _open(self.paths[-1], "wb")
            self._compressor = zlib.compressobj(self.level, zlib.DEFLATED, 31)  # 31: a gzip stream
            self._written = 0
        self._file.write(self._compressor.compress(frames))
        self._written += len(frames)

    def _finish_file(self) -> None:
        if self._file is not None:
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
                 value_types: Optional[dict[str, str]] = None) -> Written:
    """Reads every file in batches and writes each row, as a serialized tf.Example, to its split's folder;
    rows missing a value in one of `label_columns` are counted, not written. `value_types` (the schema's
    {column: FLOAT|INT|BYTES}) fixes how those columns are read; a file where a cell does not fit its
    type has that column inferred instead (text, which the schema check then reports). A file whose
    inferred types change after its first batch is read whole once to infer them (as pyarrow's read_csv
    does), and the writing starts over."""
    column_types: dict[str, dict] = {path: arrow_types(value_types, read_header(path)) for path in files} \
        if value_types else {}
    for _ in range(len(files) * (len(value_types or {}) + 1) + 1):  # each retry settles a column or a file
        try:
            return _write_splits_once(files, null_values, split_dirs, hash_buckets, block_size, column_types,
                                      label_columns)
        except TypesChangeInFile as change:
            forced = column_types.get(change.path, {})
            misfit = first_value_not_of_type(change.path, null_values,
                                             {n: k for n, k in value_types.items() if n in forced}) \
                if forced and value_types else None
            if misfit:
                forced.pop(misfit.column)
                logging.warning("%s; the column is read as text for this file", misfit)
            else:
                inferred = read_csv(change.path, null_values).schema
                column_types[change.path] = {**{f.name: f.type for f in inferred}, **forced}
            for directory in split_dirs:
                artifact_files.fileio().rmtree(directory)
    raise UnreadableCsv(f"cannot settle the column types of {', '.join(files)}")


def _write_splits_once(files, null_values, split_dirs, hash_buckets, block_size, column_types,
                       label_columns) -> Written:
    encoder = example_coder.RecordBatchToExamplesEncoder()
    writers = [SplitWriter(directory) for directory in split_dirs]
    unlabelled = [0] * len(writers)
    try:
        for path in files:
            for batch in read_batches(path, null_values, block_size, column_types.get(path)):
                splits = row_splits(batch, hash_buckets)
                labelled = labelled_rows(batch, label_columns)
                if not labelled.all():
                    unlabelled = [n + int(np.sum(~labelled & (splits == i))) for i, n in enumerate(unlabelled)]
                    splits = np.where(labelled, splits, -1)
                examples = encoder.encode(table_to_record_batch(batch))
                for index, writer in enumerate(writers):
                    writer.write([examples[i] for i in np.flatnonzero(splits == index)])
    finally:
        for writer in writers:
            writer.close()
    return Written([writer.records for writer in writers], unlabelled)
