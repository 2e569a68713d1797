"""Reading CSV files into Arrow tables and tf.Examples, with the schema's types where there is one, and the
messages a file that cannot be read gets. Used by ExampleGen, `mlops init`, `predict` and `monitor` alike.

Without a schema, types are inferred per column as TFX's CsvExampleGen does: a column holding any non-number becomes
a string column, which the schema check then reports.
"""
from __future__ import annotations

import io
from contextlib import contextmanager
from typing import Iterator, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv
from tfx_bsl.coders import example_coder

from pipelines.shared import artifact_files
from pipelines.shared.data_files import read_header
from pipelines.shared.errors import UsageError

BATCH_BYTES = 16 << 20       # CSV bytes read at a time; types are inferred from the first batch of a file

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


def open_stream(path: str, mode: str):
    if not artifact_files.is_uri(path):
        return open(path, mode)
    source = artifact_files.fileio().open(path, mode)
    return io.BufferedReader(_RawReader(source)) if "r" in mode else source


@contextmanager
def csv_source(path: str):
    """What pyarrow's CSV reader reads: a local path as such, which pyarrow reads natively; a URI through
    TFX's file system layer. A Python file must not be read ahead on pyarrow's threads: they need the GIL,
    and a reader dropped before its end waits for them while holding it (a deadlock seen at 1M rows)."""
    if not artifact_files.is_uri(path):
        yield path, True
    else:
        with open_stream(path, "rb") as source:
            yield source, False


class UnreadableCsv(UsageError, ValueError):
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


class ValueNotOfType(UsageError, ValueError):
    """A cell that cannot be read as its column's type; the message names file, line, column and type."""

    def __init__(self, path: str, column: str, kind: str, line: int, value: str):
        super().__init__(f"{path}, line {line}, column {column!r}: {printable(value)!r} is not {self.expected(kind)} "
                         f"(the schema's type for it is {kind})")
        self.path, self.column, self.kind, self.line = path, column, kind, line

    @staticmethod
    def expected(kind: str) -> str:
        return "a number" if kind == "FLOAT" else "a whole number" if kind == "INT" else "text"

    def without_value(self) -> str:
        """The message without the cell's value: what a log file may keep (the column may be personal)."""
        return f"{self.path}, line {self.line}, column {self.column!r}: a value is not {self.expected(self.kind)}"


def first_value_not_of_type(path: str, null_values: list[str], value_types: dict[str, str]) -> Optional[ValueNotOfType]:
    """The first cell of the file that its column's type cannot hold; None when every cell fits. Each
    column is converted whole; only a column that fails is searched cell by cell."""
    convert = csv.ConvertOptions(null_values=null_values, strings_can_be_null=True,
                                 column_types={n: pa.string() for n in value_types})
    with open_stream(path, "rb") as source:
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
            with open_stream(path, "rb") as source:
                return csv.read_csv(source, convert_options=_convert_options(null_values, types))
        return csv.read_csv(path, convert_options=_convert_options(null_values, types))
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        if types and value_types and "conversion error" in str(error):
            found = first_value_not_of_type(path, null_values, {n: value_types[n] for n in types})
            if found:
                raise found from None
        raise UnreadableCsv(unreadable_message(path, error)) from None


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
        with csv_source(path) as (source, threads):
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
        with open_stream(path, "rb") as f:
            magic = f.read(4)
    except OSError:
        return None
    return next((f"{path} is {kind}-compressed: decompress it first ({tool} {path})"
                 for signature, kind, tool in COMPRESSED if magic.startswith(signature)), None)


def unreadable_message(path: str, error: Exception) -> str:
    """pyarrow's reason (without the raw row it echoes), the first bad line's number and what is wrong with it,
    never its values (they may be personal); for a compressed file, that it is."""
    compressed = compressed_message(path)
    if compressed:
        return compressed
    parts = str(error).split(":", 2)
    reason = ":".join(parts[:2]).strip() if len(parts) > 2 else str(error)
    line_number, what = first_bad_line(path)
    where = f"line {line_number}: " if line_number else ""
    return f"{path}: cannot read as CSV: {where}{printable(reason)}" + (f"; the line {what}" if what else "")


def first_bad_line(path: str) -> tuple[int, str]:
    """(1-based line number, what is wrong with it, in counts and positions only) of the first line that is not
    text or has another number of fields than the header; (0, "") when none is found."""
    import csv as text_csv
    import io

    with open_stream(path, "rb") as f:
        lines = f.read().split(b"\n")
    width = None
    for number, raw in enumerate(lines, start=1):
        if not raw.strip() and number == len(lines):
            break
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            return number, f"is not UTF-8 text (byte {error.start + 1})"
        if "\0" in text:
            return number, f"holds a NUL byte (character {text.index(chr(0)) + 1})"
        try:
            fields = next(text_csv.reader(io.StringIO(text)), [])
        except text_csv.Error:
            return number, "is not a CSV row"
        if width is None:
            width = len(fields)
        elif len(fields) != width:
            return number, f"has {len(fields)} fields where the header has {width}"
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


# --- writing ------------------------------------------------------------------------------


