"""`mlops serve`, `rollout`, `rollback`, `predict`, `explain` and `monitor`: serving the pushed versions, scoring data with
them, and watching the data they are asked about."""
from __future__ import annotations

import argparse
import os

from pipelines.cli.errors import EXIT_FAILED, EXIT_OK
from pipelines.config import ConfigError


def rollout_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["canary", "promote", "abort"],
                        help="canary VERSION: load it under the canary label; promote [VERSION]: the canary (or, "
                             "blue/green, VERSION) becomes stable; abort: drop the canary")
    parser.add_argument("version", nargs="?", help="a version from `mlops models` (1.2.0)")
    parser.add_argument("--percent", type=int, help="canary: the share of keyed requests it answers (default 10; "
                                                    "with --shadow: the share copied to it, default 100)")
    parser.add_argument("--shadow", action="store_true", help="canary: copy requests to it, answer from stable")


def rollback_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", required=True, metavar="VERSION", help="a version from `mlops models`")


def predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", nargs="?", help="CSV file or folder (default: batch_inference.data)")
    parser.add_argument("-o", "--output", help="predictions file, .csv or .parquet (default: batch_inference.output)")
    parser.add_argument("--online", action="store_true", help="send each row to the running server, keyed by "
                                                              "batch_inference.id_column, split as the rollout says")


def explain_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", nargs="?", help="CSV file or folder (default: batch_inference.data)")
    parser.add_argument("-o", "--output", required=True, help="attributions file, .csv or .parquet")
    parser.add_argument("--online", action="store_true", help="ask the running server's `explain` signature, one "
                                                              "request per row keyed by batch_inference.id_column")


def monitor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--serving", metavar="PATH", help="serving data folder (default: skew.serving_data)")
    parser.add_argument("--retrain", action="store_true", help="on skew, run the pipeline on the latest data")


def serve(args, cfg) -> int:
    from pipelines.metadata.store import open_reader
    from pipelines.serving import server
    from pipelines.shared.console import quiet_libraries

    reader = open_reader(cfg)
    with quiet_libraries():
        stopped = server.serve(reader, cfg, on_ready=lambda text: print(text, flush=True))
    return EXIT_OK if stopped == 0 else EXIT_FAILED


def rollout(args, cfg) -> int:
    from pipelines.serving import server

    if args.action == "canary" and not args.version:
        raise server.ServingError("rollout canary needs a VERSION (see `mlops models`)")
    percent = args.percent if args.percent is not None else (100 if args.shadow else 10)
    return _rolled_out(cfg, args.action, args.version, percent, "shadow" if args.shadow else "canary")


def rollback(args, cfg) -> int:
    return _rolled_out(cfg, "rollback", args.to)


def _rolled_out(cfg, action: str, version, percent: int = 0, mode: str = "canary") -> int:
    from pipelines.metadata.store import open_reader
    from pipelines.serving import server
    from pipelines.shared.console import quiet_libraries

    reader = open_reader(cfg)
    with quiet_libraries():
        result = server.roll_out(reader, cfg, action, version, percent, mode)
    shown = ", ".join(f"{label}={result.names.get(folder, folder)}" for label, folder in sorted(result.state.labels.items()))
    if result.state.canary is not None:
        shown += f" ({result.state.mode}, {result.state.percent}% of keyed requests)"
    where = f"applied to the server at {server.endpoint(cfg)}" if result.live else \
        f"no server answers at {server.endpoint(cfg)}: `mlops serve` starts with these labels"
    print(f"{shown}\n  {where}; recorded in ML Metadata", flush=True)
    return EXIT_OK


def predict(args, cfg) -> int:
    from pipelines.shared.console import quiet_libraries

    data = args.data or (cfg.resolve(cfg.batch_inference.data) if cfg.batch_inference.data else None)
    output = args.output or (cfg.resolve(cfg.batch_inference.output) if cfg.batch_inference.output else None)
    data, files, output, file_format = check_prediction_job(cfg, data, output)
    if args.online:
        from pipelines.metadata.store import open_reader
        from pipelines.serving.online import predict_online

        with quiet_libraries():
            written = predict_online(cfg, open_reader(cfg), files, output, file_format)
        print(f"wrote {output}: {written.rows} rows, by label: {written.by_label}")
    else:
        from pipelines.runners import local

        scored = local.predict(cfg, data, files, output, file_format)
        print(f"wrote {scored.output}: {scored.rows} rows scored by version {scored.version}")
    print_scoring_notes(cfg, files)
    return EXIT_OK


def explain(args, cfg) -> int:
    from pipelines.metadata.store import open_reader
    from pipelines.serving import explanations
    from pipelines.shared.console import quiet_libraries

    data = args.data or (cfg.resolve(cfg.batch_inference.data) if cfg.batch_inference.data else None)
    data, files, output, file_format = check_prediction_job(cfg, data, args.output)
    with quiet_libraries():
        run = explanations.explain_online if args.online else explanations.explain_batch
        written = run(cfg, open_reader(cfg), files, output, file_format)
    print(f"wrote {written.output}: attributions of {written.rows} rows by version {written.version}"
          + (" (stable; answered as the rollout splits)" if args.online else ""))
    print_scoring_notes(cfg, files)
    return EXIT_OK


def print_scoring_notes(cfg, files: list[str]) -> None:
    """What predict and explain both say after writing: the positive class, how rows are identified, and
    the values the model never saw in training."""
    from pipelines.shared.console import quiet_libraries

    for note in (positive_note(cfg), row_numbers_note(cfg, files)):
        if note:
            print(note)
    with quiet_libraries():
        unseen = unseen_values_line(cfg, files)
    print(unseen)


def unseen_values_line(cfg, files: list[str]) -> str:
    """How many rows of the scored files hold a categorical value the served model never saw in training."""
    import pyarrow as pa

    from pipelines.metadata.registry import stable_model
    from pipelines.metadata.store import open_reader
    from pipelines.shared.csv_tables import read_csv
    from pipelines.shared.unseen_values import read_vocabularies, unseen_counts, unseen_line

    version, _ = stable_model(open_reader(cfg), cfg.serving_dir)
    table = pa.concat_tables([read_csv(f, cfg.data.null_values) for f in files], promote=True)
    counts = unseen_counts(cfg.features, table, read_vocabularies(version.serving_path, cfg.features))
    return unseen_line(counts, table.num_rows)


def positive_note(cfg) -> str:
    """What a binary model's score is the probability of."""
    if cfg.label.head != "binary":
        return ""
    return f"  scores are the probability of the positive class: {cfg.label.positive_class}"


def row_numbers_note(cfg, files: list[str]) -> str:
    """Without batch_inference.id_column the output numbers the rows: say so, with the columns that could be one."""
    if cfg.batch_inference.id_column:
        return ""
    from pipelines.shared.data_files import read_header
    from pipelines.shared.prediction_tables import ROW_COLUMN

    return (f"  no batch_inference.id_column in {cfg.source}: rows are numbered in {ROW_COLUMN} (1, 2, ... in file "
            f"order); to join on a column of your own, set it to one of: {', '.join(read_header(files[0]))}")


def required_features(cfg) -> list[str]:
    """The features the schema gives one value on every example (a shape): a request without one is refused
    by the model's parsing, so an empty cell must be named before scoring."""
    if not cfg.schema_path or not os.path.exists(cfg.schema_path):
        return []
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    with open(cfg.schema_path) as f:  # a local file (not TFX's file I/O, which starts TensorFlow)
        schema = text_format.Parse(f.read(), schema_pb2.Schema())
    names = {f.name for f in cfg.features}
    return [f.name for f in schema.feature if f.name in names and f.HasField("shape")]


def check_scorable(cfg, files: list[str]) -> None:
    """ConfigError for data with no row to score, with NaN or infinite values in a numeric feature (the model's
    output for them would be NaN, written without a word), or with empty cells in a feature the schema requires;
    other empty cells are fine: they are filled."""
    from pipelines.shared.csv_tables import read_csv
    from pipelines.shared.unseen_values import non_finite_counts, non_finite_line

    required = required_features(cfg)
    rows = 0
    for path in files:
        table = read_csv(path, cfg.data.null_values)
        rows += table.num_rows
        bad = non_finite_counts(cfg.features, table)
        if bad:
            raise ConfigError(f"{path}: {non_finite_line(bad, table.num_rows)}: the model cannot score them; "
                              "fix them, or leave the cells empty (missing values are filled as in training)")
        empty = {name: table.column(name).null_count for name in required
                 if name in table.column_names and table.column(name).null_count}
        if empty:
            raise ConfigError(f"{path}: empty cells in features the schema requires (never missing in training): "
                              + ", ".join(f"{name} on {n} of {table.num_rows} rows" for name, n in empty.items())
                              + f"; fill them, or mark the feature optional in {cfg.schema_path} (presence)")
    if not rows:
        raise ConfigError(f"{', '.join(files)}: no row to score (a header only)")


def check_prediction_job(cfg, data: str | None, output: str | None) -> tuple[str, list[str], str, str]:
    """The data (a CSV file or folder) exists and has the ID column: (its path, its CSV files, the output, the
    output's format: its extension, else batch_inference.format)."""
    from pipelines.shared.data_files import csv_files, read_header

    if not data:
        raise ConfigError(f"{cfg.source}: batch_inference.data: give DATA or set it")
    if not output:
        raise ConfigError(f"{cfg.source}: batch_inference.output: give -o FILE or set it")
    if cfg.privacy.pseudonymize:  # the output's IDs are pseudonyms: the key is needed before anything runs
        cfg.pseudonym_key()
    try:
        files = csv_files(os.path.abspath(data))
    except FileNotFoundError as e:
        raise ConfigError(str(e)) from None
    for path in files:
        header = read_header(path)
        if cfg.batch_inference.id_column and cfg.batch_inference.id_column not in header:
            raise ConfigError(f"{cfg.source}: batch_inference.id_column: {cfg.batch_inference.id_column!r} is not a "
                              f"column of {path} (columns: {', '.join(header)})")
        missing = [f.name for f in cfg.features if f.name not in header]
        if missing:  # else the model's parsing fails deep in Beam
            raise ConfigError(f"{path} lacks the model's features {', '.join(missing)} (features in {cfg.source})")
    check_scorable(cfg, files)
    if os.path.abspath(output) in {os.path.abspath(f) for f in files}:
        raise ConfigError(f"-o {output}: that is one of the files to score; predictions never write over their input")
    extension = os.path.splitext(output)[1].lstrip(".")
    file_format = extension if extension in ("csv", "parquet") else cfg.batch_inference.format
    return os.path.abspath(data), files, output, file_format


def monitor(args, cfg) -> int:
    """0: no skew; 1: skew or serving data that breaks the schema (then --retrain runs the pipeline)."""
    from pipelines.monitor import format_result
    from pipelines.monitor import monitor as check_serving_data
    from pipelines.shared.console import quiet_libraries

    with quiet_libraries():
        result = check_serving_data(cfg, args.serving)
    print(format_result(result), flush=True)
    if not result.failed:
        return EXIT_OK
    if args.retrain:
        from pipelines.cli import project

        print("\nRetraining on the latest data (--retrain):", flush=True)
        project.run(args, cfg)
    return EXIT_FAILED
