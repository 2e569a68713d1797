"""`mlops`: validate a config, run its pipeline here and print what happened; read runs, lineage and
model versions back from ML Metadata; compile and submit for Kubeflow Pipelines.

Exit codes: 0 done (a pipeline run completed, blessed or not); 1 a gate stopped the run, a component
failed, `mlops monitor` found skew, a rollout or a prediction could not be made, or a server (MySQL, KFP,
the model server) could not be used; 2 the config is bad (nothing ran).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from pipelines.config import DEFAULT_CONFIG, ConfigError, check_data_columns, describe, load_config

EXIT_OK, EXIT_FAILED, EXIT_BAD_CONFIG = 0, 1, 2


DEBUG_ENV = "MLOPS_DEBUG"  # set to 1 to see the traceback of an unexpected error


def main(argv: list[str] | None = None) -> int:
    try:
        return run_command(argv)
    except BrokenPipeError:  # `mlops runs | head`: the reader left; nothing more to say, and no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit would fail again otherwise
        return EXIT_OK
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_FAILED
    except Exception as e:  # noqa: BLE001 - the last net: an input no check foresaw gets one line, not a traceback
        if os.environ.get(DEBUG_ENV):
            raise
        text = str(e).splitlines()[0] if str(e) else ""
        print(f"error: {type(e).__name__}: {text[:500]}\n  (not an error mlops knows how to explain: set "
              f"{DEBUG_ENV}=1 for the traceback, and please report it)", file=sys.stderr)
        return EXIT_FAILED


def run_command(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlops", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    init = commands.add_parser("init", help="write a config and a schema for a CSV file or folder")
    init.add_argument("data", help="a CSV file, or a folder of CSV files with the same columns")
    init.add_argument("--label", required=True, metavar="COLUMN", help="the column to predict")
    init.add_argument("--name", help="pipeline name (default: from the file or folder name)")
    init.add_argument("--project", default=".", help="where configs/ and schemas/ are (default: here)")
    init.add_argument("--force", action="store_true", help="overwrite an existing config and schema")
    validate = commands.add_parser("validate", help="check a config without running anything")
    run = commands.add_parser("run", help="run the pipeline locally (LocalDagRunner, ML Metadata on SQLite)")
    schema = commands.add_parser("schema", help="infer a starting schema from the config's data (TFDV)")
    compile_ = commands.add_parser("compile", help="compile for Kubeflow Pipelines (YAML) or Vertex AI (JSON)")
    submit = commands.add_parser("submit", help="upload to Kubeflow Pipelines and start a run (or a schedule)")
    runs = commands.add_parser("runs", help="the pipeline's runs from ML Metadata (--run ID: its components)")
    lineage = commands.add_parser("lineage", help="where a pushed model came from, or what came from an input")
    models = commands.add_parser("models", help="pushed model versions, with the labels they are served under")
    serve = commands.add_parser("serve", help="serve the pushed versions under their labels (TF Serving's gRPC API)")
    rollout = commands.add_parser("rollout", help="canary a version, promote it, or abort (on the running server)")
    rollback = commands.add_parser("rollback", help="move the stable label back to an earlier version")
    predict = commands.add_parser("predict", help="score a CSV file or folder with the served stable version: "
                                                  "BulkInferrer (default) or the running server (--online)")
    report = commands.add_parser("report", help="write a run's report: one self-contained HTML page")
    monitor = commands.add_parser("monitor", help="serving data against the served model's training data (skew); "
                                                  "exit 1 when a feature is over its threshold")
    for command in (validate, run, schema, compile_, submit, runs, lineage, models, serve, rollout, rollback, predict,
                    report, monitor):
        command.add_argument("config", nargs="?", default=str(DEFAULT_CONFIG),
                             help="pipeline config (default: this project's configs/taxi.yaml)")
        command.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                             help="override a config field, e.g. --set model.train_steps=200 (repeatable)")
    schema.add_argument("-o", "--output", required=True, help="where to write schema.pbtxt")
    compile_.add_argument("--target", choices=["kubeflow", "vertex"], default="kubeflow",
                          help="kubeflow: PipelineSpec YAML, schema 2.1.0 (KFP 2.x); vertex: PipelineJob JSON")
    compile_.add_argument("-o", "--output", required=True, help="pipeline.yaml (kubeflow) or pipeline.json (vertex)")
    submit.add_argument("--schedule", action="store_true", help="create a recurring run from kubeflow.schedule")
    submit.add_argument("--package", help="an already compiled pipeline.yaml (default: compile now)")
    runs.add_argument("--run", help="a run id from `mlops runs`")
    runs.add_argument("--compare", nargs=2, metavar=("RUN_A", "RUN_B"), help="two runs side by side")
    runs.add_argument("--html", metavar="FILE", help="with --compare: write the comparison as an HTML page")
    lineage.add_argument("--model", default="latest", help="latest, a version (1.2.0) or an artifact id")
    lineage.add_argument("--from-data", help="an input file or folder: everything derived from it")
    lineage.add_argument("--format", choices=["text", "json", "dot"], default="text")
    rollback.add_argument("--to", required=True, metavar="VERSION", help="a version from `mlops models`")
    rollout.add_argument("action", choices=["canary", "promote", "abort"],
                         help="canary VERSION: load it under the canary label; promote [VERSION]: the canary (or, "
                              "blue/green, VERSION) becomes stable; abort: drop the canary")
    rollout.add_argument("version", nargs="?", help="a version from `mlops models` (1.2.0)")
    rollout.add_argument("--percent", type=int, help="canary: the share of keyed requests it answers (default 10; "
                                                     "with --shadow: the share copied to it, default 100)")
    rollout.add_argument("--shadow", action="store_true", help="canary: copy requests to it, answer from stable")
    predict.add_argument("data", nargs="?", help="CSV file or folder (default: batch_inference.data)")
    predict.add_argument("-o", "--output", help="predictions file, .csv or .parquet (default: batch_inference.output)")
    predict.add_argument("--online", action="store_true", help="send each row to the running server, keyed by "
                                                               "batch_inference.id_column, split as the rollout says")
    report.add_argument("--run", help="a run id from `mlops runs` (default: the latest run)")
    report.add_argument("-o", "--output", help="the HTML file (default: <output_root>/reports/<run>.html)")
    monitor.add_argument("--serving", metavar="PATH", help="serving data folder (default: skew.serving_data)")
    monitor.add_argument("--retrain", action="store_true", help="on skew, run the pipeline on the latest data")
    run.add_argument("--no-baseline", action="store_true",
                     help="judge the model on its thresholds alone, not against the served one (to replace a model "
                          "that should never have been blessed); the same as --set evaluation.baseline=none")
    args = parser.parse_args(argv)
    if getattr(args, "no_baseline", False):
        args.overrides.append("evaluation.baseline=none")
    if args.command == "init":
        return init_project(args)

    try:
        cfg = load_config(args.config, args.overrides)
        if args.command in ("validate", "run"):  # the data's header, so that a misspelt column fails now
            check_data_columns(cfg)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_CONFIG

    if args.command == "validate":
        print(f"{args.config}: valid")
        print(json.dumps(describe(cfg), indent=2))
        return EXIT_OK
    if args.command == "schema":
        return infer_schema(cfg, args.output)
    if args.command == "compile":
        return compile_for_kubeflow(cfg, args.output, args.target)
    if args.command == "submit":
        return submit_to_kubeflow(cfg, args.package, args.schedule)
    if args.command in ("runs", "lineage", "models", "report"):
        return read_metadata(cfg, args)
    if args.command in ("serve", "rollout", "rollback"):
        return deliver(cfg, args)
    if args.command == "predict":
        return score(cfg, args)
    if args.command == "monitor":
        return monitor_serving(cfg, args.serving, args.retrain)
    return run_locally(cfg)


def error_text(e: Exception) -> str:
    """An error's message as meant: a KeyError's str() adds quotes (an OSError's str() keeps its words)."""
    return e.args[0] if isinstance(e, LookupError) and e.args else str(e)


# --- mlops run -------------------------------------------------------------


def run_locally(cfg) -> int:
    from pipelines.metadata.store import MetadataConnectionError
    from pipelines.runners import local

    try:
        report = local.run_and_report(cfg)
    except (MetadataConnectionError, local.PipelineBusy) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as e:  # logs, run locks and artifacts are written under output_root
        print(f"error: cannot write under output_root {cfg.output_dir}: {e}", file=sys.stderr)
        return EXIT_FAILED
    print(f"\n{report.text}", flush=True)
    print(written_report(cfg), flush=True)
    return EXIT_FAILED if report.failed else EXIT_OK


def written_report(cfg) -> str:
    """After a run: its report's path, or why there is none (the run's outcome stands either way)."""
    from pipelines.shared.console import quiet_libraries
    from pipelines.metadata.store import open_reader
    from pipelines.report import write_report

    try:
        with quiet_libraries():  # the run's log file is closed by now: keep MLMD's INFO lines off the terminal
            return f"Report: {write_report(cfg, open_reader(cfg))}"
    except LookupError:
        return "Report: none (nothing was recorded in ML Metadata)"
    except Exception as e:  # the run is done and recorded: a report that fails must not turn it into a failure
        return f"Report: not written ({type(e).__name__}: {e}); `mlops report` writes it later"


# --- mlops monitor ------------------------------------------------------------


def monitor_serving(cfg, serving_path: str | None, retrain: bool) -> int:
    """0: no skew; 1: skew or serving data that breaks the schema (then --retrain runs the pipeline), or the
    check could not be made."""
    from pipelines.shared.console import quiet_libraries
    from pipelines.metadata.store import MetadataConnectionError
    from pipelines.monitor import format_result, monitor

    try:
        with quiet_libraries():
            result = monitor(cfg, serving_path)
    except (LookupError, OSError, ValueError, MetadataConnectionError) as e:
        print(f"error: {error_text(e)}", file=sys.stderr)
        return EXIT_FAILED
    print(format_result(result), flush=True)
    if not result.failed:
        return EXIT_OK
    if retrain:
        print("\nRetraining on the latest data (--retrain):", flush=True)
        run_locally(cfg)
    return EXIT_FAILED


# --- mlops runs / lineage / models / rollback ----------------------------------


def read_metadata(cfg, args) -> int:
    from pipelines.metadata.store import MetadataConnectionError, open_reader

    try:
        print(metadata_answer(cfg, open_reader(cfg), args))
    except MetadataConnectionError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except (LookupError, OSError) as e:  # no such run or version; a file that cannot be read or written
        print(f"error: {error_text(e)}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def metadata_answer(cfg, reader, args) -> str:
    from pipelines.metadata import lineage, registry, runs
    from pipelines.runners import run_lock

    if args.command == "runs":
        if args.compare:
            from pipelines.report import compare, write_page

            comparison = compare.compare(reader, *args.compare, cfg.serving_dir)
            if args.html:
                return f"wrote {write_page(args.html, compare.render_comparison(comparison))}"
            return compare.format_comparison(comparison)
        running = bool(run_lock.live_runs(run_lock.lock_dir(cfg.pipeline_root)))
        if args.run:
            return runs.format_components(runs.read_run_summary(reader, args.run, running))
        return runs.format_runs(cfg.name, runs.list_runs(reader, running))
    if args.command == "models":
        from pipelines.metadata.rollouts import current_state

        return registry.format_versions(cfg.name, registry.model_versions(reader, cfg.serving_dir),
                                        current_state(reader))
    if args.command == "report":
        from pipelines.report import write_report

        return f"wrote {write_report(cfg, reader, args.run, args.output)}"
    if args.from_data:
        graph = lineage.from_data(reader, args.from_data)
        if not graph.nodes:
            raise LookupError(f"nothing in ML Metadata was read from {args.from_data}")
        if args.format == "text":
            return lineage.format_artifact_list(graph)
    else:
        pushed_id = registry.pushed_model_id(reader, args.model)
        graph = lineage.upstream(reader, pushed_id)
        if args.format == "text":
            return lineage.format_tree(graph, f"a{pushed_id}")
    return graph.to_json() if args.format == "json" else graph.to_dot()


# --- mlops serve / rollout / rollback / predict ------------------------------------


def deliver(cfg, args) -> int:
    from pipelines.shared.console import quiet_libraries
    from pipelines.metadata.store import MetadataConnectionError, open_reader
    from pipelines.serving import server

    try:
        reader = open_reader(cfg)
        with quiet_libraries():
            if args.command == "serve":
                return EXIT_OK if server.serve(reader, cfg, on_ready=lambda text: print(text, flush=True)) == 0 \
                    else EXIT_FAILED
            if args.command == "rollback":
                result = server.roll_out(reader, cfg, "rollback", args.to)
            else:
                if args.action == "canary" and not args.version:
                    raise server.ServingError("rollout canary needs a VERSION (see `mlops models`)")
                percent = args.percent if args.percent is not None else (100 if args.shadow else 10)
                result = server.roll_out(reader, cfg, args.action, args.version, percent,
                                         "shadow" if args.shadow else "canary")
    except (MetadataConnectionError, server.ServingError, LookupError) as e:
        print(f"error: {error_text(e)}", file=sys.stderr)
        return EXIT_FAILED
    shown = ", ".join(f"{label}={result.names.get(folder, folder)}" for label, folder in sorted(result.state.labels.items()))
    if result.state.canary is not None:
        shown += f" ({result.state.mode}, {result.state.percent}% of keyed requests)"
    where = f"applied to the server at {server.endpoint(cfg)}" if result.live else \
        f"no server answers at {server.endpoint(cfg)}: `mlops serve` starts with these labels"
    print(f"{shown}\n  {where}; recorded in ML Metadata", flush=True)
    return EXIT_OK


def score(cfg, args) -> int:
    from pipelines.shared.console import quiet_libraries
    from pipelines.metadata.store import MetadataConnectionError

    data = args.data or (cfg.resolve(cfg.batch_inference.data) if cfg.batch_inference.data else None)
    output = args.output or (cfg.resolve(cfg.batch_inference.output) if cfg.batch_inference.output else None)
    try:
        data, files, file_format = check_prediction_job(cfg, data, output)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    try:
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
        with quiet_libraries():
            unseen = unseen_values_line(cfg, files)
        print(unseen)
    except (MetadataConnectionError, LookupError, RuntimeError, OSError, ValueError) as e:
        print(f"error: {error_text(e)}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def unseen_values_line(cfg, files: list[str]) -> str:
    """How many rows of the scored files hold a categorical value the served model never saw in training."""
    import pyarrow as pa

    from pipelines.shared.csv_tables import read_csv
    from pipelines.metadata.registry import stable_model
    from pipelines.metadata.store import open_reader
    from pipelines.serving.unseen import read_vocabularies, unseen_counts

    version, _ = stable_model(open_reader(cfg), cfg.serving_dir)
    table = pa.concat_tables([read_csv(f, cfg.data.null_values) for f in files], promote=True)
    counts = unseen_counts(cfg.features, table, read_vocabularies(version.serving_path, cfg.features))
    if not counts:
        return "values never seen in training: none"
    return "values never seen in training (scored as unknown): " + ", ".join(
        f"{name} on {rows} of {table.num_rows} rows" for name, rows in counts.items())


def check_prediction_job(cfg, data: str | None, output: str | None) -> tuple[str, list[str], str]:
    """The data (a CSV file or folder) exists and has the ID column: (its path, its CSV files, the output's format:
    its extension, else batch_inference.format)."""

    from pipelines.shared.data_files import csv_files, read_header

    if not data:
        raise ConfigError(f"{cfg.source}: batch_inference.data: give DATA or set it")
    if not output:
        raise ConfigError(f"{cfg.source}: batch_inference.output: give -o FILE or set it")
    if not cfg.batch_inference.id_column:
        raise ConfigError(f"{cfg.source}: batch_inference.id_column: name the column that identifies a row")
    try:
        files = csv_files(os.path.abspath(data))
    except FileNotFoundError as e:
        raise ConfigError(str(e)) from None
    for path in files:
        header = read_header(path)
        if cfg.batch_inference.id_column not in header:
            raise ConfigError(f"{cfg.source}: batch_inference.id_column: {cfg.batch_inference.id_column!r} is not a "
                              f"column of {path} (columns: {', '.join(header)})")
        missing = [f.name for f in cfg.features if f.name not in header]
        if missing:  # else the model's parsing fails deep in Beam
            raise ConfigError(f"{path} lacks the model's features {', '.join(missing)} (features in {cfg.source})")
    if os.path.abspath(output) in {os.path.abspath(f) for f in files}:
        raise ConfigError(f"-o {output}: that is one of the files to score; predictions never write over their input")
    extension = os.path.splitext(output)[1].lstrip(".")
    return os.path.abspath(data), files, extension if extension in ("csv", "parquet") else cfg.batch_inference.format


# --- mlops init -------------------------------------------------------------


def init_project(args) -> int:
    from pipelines import init_config
    from pipelines.shared.console import quiet_libraries

    try:
        with quiet_libraries():
            written = init_config.init_project(args.data, args.label, args.name, args.project, args.force)
    except (ValueError, FileNotFoundError, FileExistsError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    plan = written.plan
    print(f"wrote {written.config}\n  label: {plan.label['column']} ({plan.label['kind']}"
          + (f": {', '.join(map(str, plan.label['classes']))}" if plan.label["kind"] == "classes" else "") + ")")
    print(f"  features: {len(plan.features)} ({', '.join(sorted({f['kind'] for f in plan.features}))})")
    if plan.label_note:
        print(f"  label {plan.label['column']}: {plan.label_note}")
    for column, why in plan.left_out.items():
        print(f"  left out {column}: {why}")
    for column, why in plan.suspects.items():
        print(f"  SUSPECT {column}: {why}")
    for column, why in plan.notes.items():
        print(f"  {column}: {why}")
    print(f"wrote {written.schema} (TFDV's inference; the label's columns are not in SERVING)")
    if plan.id_column:
        print(f"  {plan.id_column} identifies rows in `mlops predict`'s output (batch_inference.id_column)")
    print(f"next: mlops run {os.path.relpath(written.config)}")
    return EXIT_OK


# --- mlops schema / compile / submit ---------------------------------------------


def infer_schema(cfg, output: str) -> int:
    from pipelines.shared.console import quiet_libraries
    from pipelines.schema_inference import write_inferred_schema

    try:
        with quiet_libraries():
            schema = write_inferred_schema(cfg, output)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as e:  # a file that is not readable CSV (compressed, ragged, not text): it names file and line
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    print(f"wrote {output}: {len(schema.feature)} features; curate domains, presence and ranges before use")
    return EXIT_OK


def compile_for_kubeflow(cfg, output: str, target: str) -> int:
    from pipelines.shared.console import quiet_libraries
    from pipelines.runners import kubeflow

    try:
        with quiet_libraries():
            kubeflow.compile_pipeline(cfg, output, target)
    except (ConfigError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    print(f"{output}: {cfg.name} for {target} (image {cfg.kubeflow.image})")
    return EXIT_OK


def submit_to_kubeflow(cfg, package: str | None, schedule: bool) -> int:
    import tempfile

    from pipelines.shared.console import quiet_libraries
    from pipelines.runners import kubeflow

    try:
        with tempfile.TemporaryDirectory() as tmp, quiet_libraries():
            if package is None:
                package = os.path.join(tmp, "pipeline.yaml")
                kubeflow.compile_pipeline(cfg, package)
            submitted = kubeflow.submit(cfg, package, schedule=schedule)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    except kubeflow.SubmitError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    print(f"pipeline {cfg.name}: id {submitted.pipeline_id}, version {submitted.version_id}")
    if submitted.recurring_run_id:
        print(f"recurring run {submitted.recurring_run_id}: {cfg.kubeflow.schedule.cron} "
              f"(max concurrency {cfg.kubeflow.schedule.max_concurrency})")
    else:
        print(f"run {submitted.run_id}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
