"""Checks of the config against the data it names, before anything runs: the files' headers, the schema file,
and the pseudonym key when columns are pseudonymised."""
from __future__ import annotations

from pipelines.config.base import ConfigError
from pipelines.config.pipeline import PipelineConfig
from pipelines.shared import data_files
from pipelines.shared.artifact_files import is_uri


def check_data_columns(cfg: PipelineConfig) -> list[str]:
    """Checks the config against the data's CSV headers (no data row is read): every feature, the label's
    column and `relative_to` must be columns of every file. Returns the first file's columns; raises
    ConfigError naming the file, the fields and the columns found. Data in an object store is not read.
    The privacy section's columns must be columns too, and its key readable when it pseudonymises."""
    if cfg.privacy.pseudonymize:
        cfg.pseudonym_key()
    if is_uri(cfg.data_dir):
        return []
    files = cfg.input_files()
    if not files:
        raise ConfigError(f"{cfg.source}: data: no file matches {cfg.data.pattern!r} in {cfg.data_dir}")
    named = [(f"features[{i}].name", f.name) for i, f in enumerate(cfg.features)]
    named.append(("label.column", cfg.label.column))
    relative_to = getattr(cfg.label, "relative_to", None)  # binary_threshold labels only
    if relative_to:
        named.append(("label.relative_to", relative_to))
    for field in ("pseudonymize", "drop", "personal", "quasi_identifiers"):
        named += [(f"privacy.{field}[{i}]", column) for i, column in enumerate(getattr(cfg.privacy, field))]
    if cfg.schema_path:
        check_schema_file(cfg)
    first: list[str] = []
    for path in files:
        try:
            columns = data_files.read_header(path)
        except OSError as e:
            raise ConfigError(f"{cfg.source}: data: cannot read the header of {path}: {e}") from None
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise ConfigError(f"{cfg.source}: data: {path} has the column name {', '.join(map(repr, repeated))} more "
                              "than once: a column must have one name of its own")
        missing = [f"  {field}: {name!r} is not a column" for field, name in named if name not in columns]
        if missing:
            raise ConfigError("\n".join([f"{cfg.source}: the config names columns that {path} does not have:",
                                         *missing, f"  columns found: {', '.join(columns) or '(none)'}"]))
        first = first or columns
    return first


def check_schema_file(cfg: "PipelineConfig") -> None:
    """ConfigError when the schema file is missing or not a TFDV schema in protobuf text."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    field = "schema_file" if cfg.schema_file else "the schema found by name"
    if cfg.schema_path is None:
        return
    try:
        with open(cfg.schema_path, encoding="utf-8") as f:
            text_format.Parse(f.read(), schema_pb2.Schema())
    except OSError as e:
        raise ConfigError(f"{cfg.source}: {field}: cannot read {cfg.schema_path} ({e.strerror})") from None
    except (text_format.ParseError, UnicodeDecodeError) as e:
        raise ConfigError(f"{cfg.source}: {field}: {cfg.schema_path} is not a TFDV schema in text format "
                          f"({str(e).splitlines()[0]})") from None
