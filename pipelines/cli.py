"""`mlops`: validate a config, run its pipeline here and print what happened; read runs, lineage and
model versions back from ML Metadata; compile and submit for Kubeflow Pipelines.

Exit codes: 0 done (a pipeline run completed, blessed or not); 1 a gate stopped the run, a component
failed, or a server (MySQL, KFP) could not be used; 2 the config is bad (nothing ran).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sys
import time
from datetime import datetime
from pathlib import Path

from pipelines.config import ConfigError, describe, load_config

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "taxi.yaml"
EXIT_OK, EXIT_FAILED, EXIT_BAD_CONFIG = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlops", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check a config without running anything")
    run = commands.add_parser("run", help="run the pipeline locally (LocalDagRunner, ML Metadata on SQLite)")
    schema = commands.add_parser("schema", help="infer a starting schema from the config's data (TFDV)")
    compile_ = commands.add_parser("compile", help="compile for Kubeflow Pipelines (YAML) or Vertex AI (JSON)")
    submit = commands.add_parser("submit", help="upload to Kubeflow Pipelines and start a run (or a schedule)")
    runs = commands.add_parser("runs", help="the pipeline's runs from ML Metadata (--run ID: its components)")
    lineage = commands.add_parser("lineage", help="where a pushed model came from, or what came from an input")
    models = commands.add_parser("models", help="pushed model versions; * marks the served one")
    rollback = commands.add_parser("rollback", help="serve an earlier pushed model version again")
    for command in (validate, run, schema, compile_, submit, runs, lineage, models, rollback):
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
    lineage.add_argument("--model", default="latest", help="latest, a version (1.2.0) or an artifact id")
    lineage.add_argument("--from-data", help="an input file or folder: everything derived from it")
    lineage.add_argument("--format", choices=["text", "json", "dot"], default="text")
    rollback.add_argument("--to", required=True, metavar="VERSION", help="a version from `mlops models`")
    args = parser.parse_args(argv)

    try:
        cfg = load_config(args.config, args.overrides)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_CONFIG

    if args.command == "validate":
        print(f"{args.config}: valid")
        print(json.dumps(describe(cfg), indent=2))
        return EXIT_OK
    if args.command == "schema":
        return write_inferred_schema(cfg, args.output)
    if args.command == "compile":
        return compile_for_kubeflow(cfg, args.output, args.target)
    if args.command == "submit":
        return submit_to_kubeflow(cfg, args.package, args.schedule)
    if args.command in ("runs", "lineage", "models", "rollback"):
        return read_metadata(cfg, args)
    return run_and_report(cfg)


# --- mlops runs / lineage / models / rollback ----------------------------------


def read_metadata(cfg, args) -> int:
    from pipelines import mlmd_store

    try:
        store = mlmd_store.open_store(cfg)
        with quiet_libraries():
            print(metadata_answer(cfg, store, args))
    except mlmd_store.MetadataConnectionError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except (LookupError, FileNotFoundError, FileExistsError) as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def metadata_answer(cfg, store, args) -> str:
    from pipelines import lineage, registry, summary

    if args.command == "runs":
        if args.run:
            return summary.format_components(summary.read_run_summary(store, cfg.name, args.run))
        return summary.format_runs(cfg.name, summary.list_runs(store, cfg.name))
    if args.command == "models":
        return registry.format_versions(cfg.name, registry.model_versions(store, cfg.name, cfg.serving_dir))
    if args.command == "rollback":
        served = registry.rollback(store, cfg.name, cfg.serving_dir, args.to)
        return f"Serving version {served.version} again: {served.serving_path} (recorded in ML Metadata)"
    if args.from_data:
        graph = lineage.from_data(store, cfg.name, args.from_data)
        if not graph.nodes:
            raise LookupError(f"nothing in ML Metadata was read from {args.from_data}")
        if args.format == "text":
            return "\n".join(f"{node.type} {node.id} [{node.name}] {node.uri}".rstrip()
                             for node in sorted(graph.nodes.values(), key=lambda n: n.id) if node.kind == "artifact")
    else:
        pushed_id = pushed_model_id(store, cfg, args.model)
        graph = lineage.upstream(store, cfg.name, pushed_id)
        if args.format == "text":
            return lineage.format_tree(graph, f"a{pushed_id}")
    return graph.to_json() if args.format == "json" else graph.to_dot()


def pushed_model_id(store, cfg, which: str) -> int:
    from pipelines import registry

    if which.isdigit():
        return int(which)
    versions = registry.model_versions(store, cfg.name, cfg.serving_dir, with_metrics=False)
    if not versions:
        raise LookupError(f"pipeline {cfg.name} has no pushed model in ML Metadata")
    if which == "latest":
        return versions[-1].pushed_model_id
    return registry.find(versions, which).pushed_model_id


# --- mlops compile / submit -------------------------------------------------


def compile_for_kubeflow(cfg, output: str, target: str) -> int:
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


# --- mlops run -------------------------------------------------------------


def run_and_report(cfg) -> int:
    from pipelines import mlmd_store

    try:  # a store that cannot be opened fails here, in seconds, before anything runs
        mlmd_store.open_store(cfg)
        secrets = mlmd_store.secrets(cfg)
    except mlmd_store.MetadataConnectionError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    log_path = Path(cfg.output_dir) / "logs" / f"run-{datetime.now():%Y%m%d-%H%M%S}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with logs_to_file(log_path, secrets) as terminal:
        print(f"Running pipeline {cfg.name} (config {cfg.source})\n  logs: {log_path}", file=terminal, flush=True)
        from pipelines.runners import local

        pipeline = local.local_pipeline(cfg)
        print(f"  Beam: {' '.join(pipeline.beam_pipeline_args)}", file=terminal, flush=True)
        error = None
        try:
            local.run(pipeline)
        except Exception as e:  # a component failed: reported below, with what MLMD recorded
            logging.exception("pipeline run failed")
            error = e
        text = run_report(cfg, pipeline, error)
        print(f"\n{text}", file=terminal, flush=True)
    return EXIT_FAILED if error else EXIT_OK


def run_report(cfg, pipeline, error) -> str:
    from components.data_gate.logic import AnomaliesFound
    from pipelines import summary as S
    from pipelines.runners.local import metadata_store

    try:
        result = S.read_run_summary(metadata_store(cfg), cfg.name)
    except LookupError:
        return f"Failed before anything was recorded in ML Metadata: {error}"
    executed = {c.node for c in result.components}
    not_run = [c.id for c in pipeline.components if c.id not in executed]
    gated = _find_cause(error, AnomaliesFound) is not None
    return S.format_summary(
        result, not_run=not_run,
        gate_message="the data gate found anomalies; nothing was trained or pushed" if gated else None,
        error=None if gated or error is None else f"{type(error).__name__}: {error}")


def _find_cause(error, kind):
    while error is not None:
        if isinstance(error, kind):
            return error
        error = error.__cause__ or error.__context__
    return None


class _Redact(logging.Filter):
    def __init__(self, secrets):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record):
        if self.secrets:
            message = record.getMessage()
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


class _Progress(logging.Handler):
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
def logs_to_file(path: Path, secrets: list[str] = ()):
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
    progress = _Progress(terminal)
    for handler in (file_handler, progress):
        handler.addFilter(_Redact(secrets))
    root.handlers = [file_handler, progress]
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


# --- mlops schema ------------------------------------------------------------


def write_inferred_schema(cfg, output: str) -> int:
    """A starting point for schemas/<name>/schema.pbtxt: TFDV's inference plus TRAINING/SERVING environments.

    The data is read as the pipeline's ExampleGen reads it, so the types are the ones it will see.
    """
    import pyarrow as pa
    import tensorflow_data_validation as tfdv
    from tensorflow_data_validation.statistics import stats_impl

    from components.csv_example_gen import logic as csv_logic
    from components.modules.features import label_columns

    try:
        files = csv_logic.matching_files(cfg.data_dir, cfg.data.pattern)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    table = pa.concat_tables([csv_logic.read_csv(f, cfg.data.null_values) for f in files], promote=True)
    stats = stats_impl.generate_statistics_in_memory(csv_logic.table_to_record_batch(table))
    schema = tfdv.infer_schema(stats)
    schema.default_environment.extend(["TRAINING", "SERVING"])
    for column in label_columns(cfg):
        tfdv.get_feature(schema, column).not_in_environment.append("SERVING")
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    tfdv.write_schema_text(schema, output)
    print(f"wrote {output}: {len(schema.feature)} features; curate domains, presence and ranges before use")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
