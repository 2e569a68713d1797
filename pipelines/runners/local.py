"""Runs a pipeline here: LocalDagRunner, Beam's DirectRunner, ML Metadata on SQLite or MySQL."""
from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Optional

from pipelines.config import PipelineConfig
from pipelines.metadata import privacy, recovery, runs, store
from pipelines.metadata.reader import MetadataReader, int_property
from pipelines.runners import run_lock, unchanged
from pipelines.shared import artifact_files, component_ids, console, pseudonyms, serving_layout
from pipelines.shared.beam_runner import names_remote_runner
from pipelines.shared.errors import MlopsError

MB = 1024 * 1024


def input_size_bytes(cfg: PipelineConfig) -> int:
    return sum(os.path.getsize(p) for p in cfg.input_files())


def beam_args(cfg: PipelineConfig, input_bytes: int | None = None) -> dict[str, list[str]]:
    """DirectRunner arguments per Beam component: in-process for small data, where worker start-up would
    dominate, multi-process from each component's runner.beam.multi_processing_above_mb of input;
    runner.beam.modes sets the mode of one component."""
    beam = cfg.runner.beam
    size = input_size_bytes(cfg) if input_bytes is None else input_bytes
    args = {}
    for node in component_ids.WITH_BEAM:
        mode = beam.modes.get(node, beam.mode)
        if mode == "auto":
            above = beam.multi_processing_above_mb  # per component once validated
            above_mb = above.get(node) if isinstance(above, dict) else above
            mode = "multi_processing" if above_mb is not None and size >= above_mb * MB else "in_memory"
        workers = 1 if mode == "in_memory" else (beam.workers or os.cpu_count() or 1)
        args[node] = [f"--direct_running_mode={mode}", f"--direct_num_workers={workers}", *beam.extra_args]
    return args


def describe_beam_args(args: dict[str, list[str]]) -> str:
    """'StatisticsGen in_memory, Transform multi_processing x2, ...' for the run's first lines."""
    def mode(node_args: list[str]) -> str:
        options = dict(a.lstrip("-").split("=", 1) for a in node_args if a.startswith("--direct_") and "=" in a)
        workers = options.get("direct_num_workers", "1")
        return options.get("direct_running_mode", "") + (f" x{workers}" if workers != "1" else "")
    return ", ".join(f"{node} {mode(node_args)}" for node, node_args in args.items())


def with_privacy_state(cfg: PipelineConfig) -> PipelineConfig:
    """The config with what its ExampleGen must know beyond the YAML: the pseudonym key's id and the
    pseudonyms of the rows forgotten so far (ML Metadata's forget requests)."""
    if not cfg.privacy.pseudonymize:
        return cfg
    reader = MetadataReader(store.open_store(cfg), cfg.name)  # a first run creates the store anyway
    key_id = cfg.pseudonym_key().key_id
    stale = privacy.requests_under_other_keys(reader, key_id)
    if stale:
        raise pseudonyms.PseudonymKeyError(
            f"{cfg.source}: privacy: the pseudonym key changed since forget request{'s' if len(stale) > 1 else ''} "
            f"{', '.join(map(str, stale))}: under this key their pseudonyms match nobody, and a run would train on "
            "those people again. Run with the key they were made under, or issue them again under this one "
            f"(`mlops forget --id VALUE --supersedes {stale[0]}`; the IDs are not kept here)")
    return cfg.with_privacy_state(key_id, privacy.forgotten_pseudonyms(reader))


def with_run_state(cfg: PipelineConfig) -> PipelineConfig:
    """The config with everything its components must know beyond the YAML: the privacy state, the version the
    latest rollout serves (the drift check's reference) and the data's content digest (ExampleGen's cache)."""
    cfg = with_privacy_state(cfg)
    if not artifact_files.is_uri(cfg.serving_dir):
        cfg = cfg.with_served_version(serving_layout.read_served_version(cfg.serving_dir))
    if not artifact_files.is_uri(cfg.data_dir):
        cfg = cfg.with_data_digest(unchanged.data_digest(cfg))
    return cfg


def local_pipeline(cfg: PipelineConfig):
    """The pipeline as LocalDagRunner runs it: create_pipeline with local Beam args and MLMD; `cfg` as
    with_run_state returned it."""
    from pipelines.assembly import create_pipeline

    return create_pipeline(cfg, beam_args=beam_args(cfg), metadata_connection_config=store.connection_config(cfg))


class PipelineBusy(MlopsError, RuntimeError):
    """Another process runs the same pipeline on the same pipeline root; the message names it."""


@contextmanager
def own_run(cfg: PipelineConfig):
    """This process's claim on the pipeline for as long as it runs it; PipelineBusy at once when another
    process claimed it first (two runs would train and push twice, and each report the other's run).
    What killed runs left behind is recovered first; yields the recovered executions."""
    with run_lock.RunLock(run_lock.lock_dir(cfg.pipeline_root), what=cfg.source or cfg.name) as lock:
        first = next(iter(lock.earlier()), None)
        if first is not None:
            since = datetime.fromtimestamp(first.get("started", 0)).strftime("%Y-%m-%d %H:%M:%S")
            raise PipelineBusy(f"pipeline {cfg.name} is already running on {cfg.pipeline_root}: process "
                               f"{first.get('pid')} on {first.get('host')} since {since} ({first.get('what')}); "
                               "wait for it to end, or stop it")
        recovered = []
        if not lock.others():  # another live run's RUNNING executions are its own, not debris
            metadata = store.open_store(cfg)
            reader = MetadataReader(metadata, cfg.name)
            recovered = recovery.recover(metadata, reader, cfg.pipeline_root, cfg.serving_dir,
                                         store_is_ours=cfg.metadata.backend == "sqlite")
            for request_id in privacy.unfinished_forget_requests(reader):  # its process died half-way
                privacy.finish_forget_request(reader, request_id)
                logging.warning("Completed forget request %d, which was interrupted before it was carried out",
                                request_id)
        for line in recovery.describe(recovered):
            logging.warning(line)
        yield recovered


@contextmanager
def tfx_packaged_for_remote_runners_only():
    """Every TFX Beam component whose args name no dependency (--setup_file, --extra_packages, ...) builds an
    sdist of TFX for remote workers (dependency_utils.make_beam_dependency_flags): about 3 s each, and 49 MB
    in a /tmp folder nothing deletes (51 GB of them on this machine ran a CI install out of disk). The
    DirectRunner's workers are this process and its children, which import TFX already, so only other
    runners get one."""
    from tfx.utils import dependency_utils

    packaging = dependency_utils.make_beam_dependency_flags
    dependency_utils.make_beam_dependency_flags = (
        lambda args: packaging(args) if names_remote_runner(args) else args)
    try:
        yield
    finally:
        dependency_utils.make_beam_dependency_flags = packaging


def run(pipeline, parallel_components: int) -> None:
    """Runs a local_pipeline(); raises what the failing component raised."""
    from pipelines.runners.dag import ConcurrentDagRunner

    with tfx_packaged_for_remote_runners_only():
        ConcurrentDagRunner(parallel_components).run(pipeline)


def component_to_retry(summary, retries, used: dict[str, int]) -> Optional[str]:
    """The component whose failure ended the run, when it has retries left (runner.retries); never the
    data gate (the data would not change), nor a run that failed without a component recording it."""
    failed = [c.node for c in summary.components if c.state == "failed"]
    if summary.outcome != runs.FAILED or not failed:
        return None
    node = failed[0]
    return node if used.get(node, 0) < retries.for_component(node) else None


def backoff_seconds(first: float, attempt: int) -> float:
    """first, 2 x first, 4 x first ... at most an hour (as the Kubeflow retry policy)."""
    return min(first * 2 ** (attempt - 1), 3600.0)


@dataclass
class RunReport:
    text: str                  # the summary `mlops run` prints
    failed: bool               # a component failed, the data gate's included
    log_path: str


def run_and_report(cfg: PipelineConfig) -> RunReport:
    """Runs the pipeline with library output in <output_root>/logs/ and progress on the terminal, then
    reads what it did back from ML Metadata. MetadataConnectionError before anything runs."""
    store.open_store(cfg)  # a store that cannot be opened fails here, in seconds, before anything runs
    cfg = with_run_state(cfg)
    inputs = unchanged.fingerprint(cfg)  # what this run reads, before it runs (its own push changes the serving folder)
    log_path = Path(cfg.output_dir) / "logs" / f"run-{datetime.now():%Y%m%d-%H%M%S}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with console.logs_to_file(log_path, store.secrets(cfg)) as terminal, own_run(cfg) as recovered:
        reader = store.open_reader(cfg)
        matched = None if recovered else unchanged.matching_run(cfg, inputs, reader)
        if matched is not None:
            return RunReport(unchanged_text(cfg, runs.read_run_summary(reader, matched.run_id)), False, str(log_path))
        unchanged.forget(cfg)  # until this run completes
        print(f"Running pipeline {cfg.name} (config {cfg.source})\n  logs: {log_path}", file=terminal, flush=True)
        for line in recovery.describe(recovered):
            print(f"  {line}", file=terminal, flush=True)
        pipeline = local_pipeline(cfg)
        carried = {c.id: c.executor_spec.beam_pipeline_args for c in pipeline.components
                   if c.id in component_ids.WITH_BEAM}
        print(f"  Beam: {describe_beam_args(carried)}", file=terminal, flush=True)
        retries_used: dict[str, int] = {}
        while True:
            error: Optional[Exception] = None
            try:
                run(pipeline, cfg.runner.parallel_components)
            except Exception as e:  # a component failed: reported with what MLMD recorded
                logging.exception("pipeline run failed")
                error = e
            try:
                summary = runs.read_run_summary(store.open_reader(cfg))
            except LookupError:
                return RunReport(f"Failed before anything was recorded in ML Metadata: {error}", True, str(log_path))
            node = component_to_retry(summary, cfg.runner.retries, retries_used) if error else None
            if node is None:
                break
            retries_used[node] = retries_used.get(node, 0) + 1
            wait = backoff_seconds(cfg.runner.retries.backoff_seconds, retries_used[node])
            print(f"  {node} failed ({type(error).__name__}); retry {retries_used[node]} of "
                  f"{cfg.runner.retries.for_component(node)} in a new run in {wait:g} s", file=terminal, flush=True)
            time.sleep(wait)
        executed = {c.node for c in summary.components}
        not_run = [c.id for c in pipeline.components if c.id not in executed]
        text = runs.format_summary(summary, not_run=not_run, error=f"{type(error).__name__}: {error}" if error else None)
        if error is None and not not_run and summary.outcome in (runs.PUSHED, runs.NOT_BLESSED, runs.CACHED):
            unchanged.record(cfg, inputs, summary.run_id)
    return RunReport(text, error is not None or summary.outcome in (runs.GATED, runs.FAILED), str(log_path))


def unchanged_text(cfg: PipelineConfig, summary: runs.RunSummary) -> str:
    return (f"Pipeline {cfg.name}: unchanged since run {summary.run_id} (the same config, data files, schema, code and "
            "served versions), which completed: nothing to run; every component would come from cache.\n"
            f"That run:\n\n{runs.format_summary(summary)}")


# --- mlops predict ----------------------------------------------------------------


@dataclass
class Scored:
    version: str
    output: str
    rows: int
    log_path: str


def predict(cfg: PipelineConfig, data: str, files: list[str], output: str, file_format: str) -> Scored:
    """Scores `data` (a CSV file or folder, whose CSV files are `files`) with the served stable version through
    `<name>-inference` (ExampleGen, BulkInferrer, PredictionExport). LookupError: no served, blessed model;
    RuntimeError: the run failed (the log says why); the output file is then left as it was."""
    from pipelines.metadata.checks import model_value_types
    from pipelines.metadata.registry import stable_model

    reader = store.open_reader(cfg)
    version, model_uri = stable_model(reader, cfg.serving_dir)
    if not os.path.isdir(os.path.join(model_uri, "Format-Serving")):
        raise LookupError(f"version {version.version}'s trained model is gone from {model_uri}")
    value_types = model_value_types(reader, version.model_id)
    if value_types:  # a cell the model cannot parse is named here, not deep in the BulkInferrer
        from pipelines.shared.csv_tables import first_value_not_of_type

        for path in files:
            misfit = first_value_not_of_type(path, cfg.data.null_values,
                                             {f.name: value_types[f.name] for f in cfg.features if f.name in value_types})
            if misfit:
                raise misfit
    scoring = cfg.model_copy(deep=True)
    scoring.batch_inference.format = "parquet" if file_format == "parquet" else "csv"
    log_path = Path(cfg.output_dir) / "logs" / f"predict-{datetime.now():%Y%m%d-%H%M%S}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    size = sum(os.path.getsize(f) for f in files)
    with console.logs_to_file(log_path, store.secrets(cfg)) as terminal:
        print(f"Scoring {data} with version {version.version} (stable)\n  logs: {log_path}", file=terminal, flush=True)
        from pipelines.assembly import create_inference_pipeline  # TensorFlow's import-time output goes to the log
        pipeline = create_inference_pipeline(scoring, data, output, model_uri, beam_args(cfg, size),
                                             store.connection_config(cfg), value_types)
        try:
            run(pipeline, cfg.runner.parallel_components)
        except Exception as error:  # the component's own message; the traceback is in the log
            logging.exception("inference run failed")
            raise RuntimeError(f"{type(error).__name__}: {error} (log: {log_path})") from None
        # The row count PredictionExport recorded, rather than reading the file back.
        scoring_run = runs.read_run_summary(MetadataReader(store.open_store(cfg), pipeline.pipeline_info.pipeline_name))
        predictions = scoring_run.output(component_ids.PREDICTION_EXPORT, "predictions")
    return Scored(version.version, output, int_property(predictions, "rows") or 0, str(log_path))
