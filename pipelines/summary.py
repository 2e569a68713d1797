"""What a pipeline run did, read back from ML Metadata and the artifacts it recorded."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ml_metadata.proto import metadata_store_pb2

STATES = {
    metadata_store_pb2.Execution.COMPLETE: "complete",
    metadata_store_pb2.Execution.CACHED: "cached",
    metadata_store_pb2.Execution.FAILED: "failed",
    metadata_store_pb2.Execution.RUNNING: "running",
    metadata_store_pb2.Execution.CANCELED: "canceled",
    metadata_store_pb2.Execution.NEW: "new",
}


@dataclass
class ComponentRun:
    node: str
    state: str
    seconds: float
    outputs: dict[str, list] = field(default_factory=dict)  # output key -> MLMD artifacts


@dataclass
class RunSummary:
    pipeline: str
    run_id: str
    components: list[ComponentRun]
    anomalies: list = field(default_factory=list)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # slice -> metric -> value
    blessed: Optional[bool] = None
    blessing_reasons: list[str] = field(default_factory=list)
    infra_blessed: Optional[bool] = None
    infra_platform: Optional[str] = None
    infra_reason: Optional[str] = None
    pushed_path: Optional[str] = None

    def component(self, node: str) -> Optional[ComponentRun]:
        return next((c for c in self.components if c.node == node), None)

    @property
    def total_seconds(self) -> float:
        return sum(c.seconds for c in self.components)


# --- reading MLMD ----------------------------------------------------------


def latest_run_id(store, pipeline_name: str) -> Optional[str]:
    runs = run_contexts(store, pipeline_name)
    return runs[-1].name if runs else None


def run_contexts(store, pipeline_name: str) -> list:
    """The pipeline's run contexts, oldest first."""
    pipeline = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if pipeline is None:
        return []
    # TFX makes each run context a child of its pipeline's: one query, also in a store many pipelines share.
    runs = [c for c in store.get_children_contexts_by_context(pipeline.id) if c.type == "pipeline_run"]
    return sorted(runs, key=lambda c: c.id)


def component_runs(store, pipeline_name: str, run_id: str) -> list[ComponentRun]:
    run = store.get_context_by_type_and_name("pipeline_run", run_id)
    if run is None:
        raise LookupError(f"no run {run_id!r} of pipeline {pipeline_name!r} in ML Metadata")
    executions = sorted(store.get_executions_by_context(run.id), key=lambda e: e.id)
    artifacts_by_execution = _output_artifacts(store, [e.id for e in executions])
    result = []
    for execution in executions:
        node = _node_name(store, execution.id, pipeline_name)
        seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000
        result.append(ComponentRun(node, STATES.get(execution.last_known_state, "unknown"), seconds,
                                   artifacts_by_execution.get(execution.id, {})))
    return result


def _node_name(store, execution_id: int, pipeline_name: str) -> str:
    for context in store.get_contexts_by_execution(execution_id):
        if context.type == "node":
            return context.name[len(pipeline_name) + 1:] if context.name.startswith(pipeline_name + ".") else context.name
    return f"execution {execution_id}"


def _output_artifacts(store, execution_ids: list[int]) -> dict[int, dict[str, list]]:
    events = [e for e in store.get_events_by_execution_ids(execution_ids)
              if e.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)]
    artifacts = {a.id: a for a in store.get_artifacts_by_id(list({e.artifact_id for e in events}))}
    result: dict[int, dict[str, list]] = {}
    for event in events:
        key = event.path.steps[0].key if event.path.steps else ""
        result.setdefault(event.execution_id, {}).setdefault(key, []).append(artifacts[event.artifact_id])
    return result


def read_run_summary(store, pipeline_name: str, run_id: Optional[str] = None) -> RunSummary:
    run_id = run_id or latest_run_id(store, pipeline_name)
    if run_id is None:
        raise LookupError(f"pipeline {pipeline_name!r} has no run in ML Metadata")
    summary = RunSummary(pipeline_name, run_id, component_runs(store, pipeline_name, run_id))

    validator = summary.component("ExampleValidator")
    if validator and validator.outputs.get("anomalies"):
        from components.data_gate.logic import read_anomalies

        summary.anomalies = read_anomalies(validator.outputs["anomalies"][0].uri)

    evaluator = summary.component("Evaluator")
    if evaluator and evaluator.outputs.get("evaluation"):
        summary.metrics, summary.blessing_reasons = read_evaluation(evaluator.outputs["evaluation"][0].uri)
    if evaluator and evaluator.outputs.get("blessing"):
        summary.blessed = int_property(evaluator.outputs["blessing"][0], "blessed") == 1

    infra_validator = summary.component("InfraValidator")
    if infra_validator and infra_validator.outputs.get("blessing"):
        blessing = infra_validator.outputs["blessing"][0]
        summary.infra_blessed = int_property(blessing, "blessed") == 1
        summary.infra_platform = string_property(blessing, "platform")
        summary.infra_reason = string_property(blessing, "reason")

    pusher = summary.component("Pusher")
    if pusher and pusher.outputs.get("pushed_model"):
        pushed = pusher.outputs["pushed_model"][0]
        if int_property(pushed, "pushed") == 1:
            summary.pushed_path = pushed.custom_properties["pushed_destination"].string_value
    return summary


def int_property(artifact, name: str) -> Optional[int]:
    value = artifact.custom_properties.get(name)
    return value.int_value if value is not None else None


def string_property(artifact, name: str) -> Optional[str]:
    value = artifact.custom_properties.get(name)
    return value.string_value if value is not None else None


# --- reading TFMA's output --------------------------------------------------


def read_evaluation(uri: str) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Metrics per slice, and one line per failed threshold."""
    import tensorflow_model_analysis as tfma

    metrics = {}
    for per_slice in tfma.load_metrics(uri):
        values = {}
        for kv in per_slice.metric_keys_and_values:
            # With a baseline TFMA reports both models and their difference: keep the candidate's values.
            if kv.value.HasField("double_value") and not kv.key.is_diff and kv.key.model_name in ("", "candidate"):
                values[kv.key.name] = kv.value.double_value.value
        metrics[slice_name(per_slice.slice_key)] = values

    reasons = []
    validation = tfma.load_validation_result(uri)
    for per_slice in validation.metric_validations_per_slice:
        for failure in per_slice.failures:
            reasons.append(f"{failure.metric_key.name}{' (change)' if failure.metric_key.is_diff else ''} "
                           f"= {failure.metric_value.double_value.value:.4g} on {slice_name(per_slice.slice_key)}: "
                           f"{threshold_text(failure.metric_threshold)}")
    return metrics, reasons


def slice_name(slice_key) -> str:
    parts = []
    for key in slice_key.single_slice_keys:
        value = key.bytes_value.decode() if key.HasField("bytes_value") else (
            key.int64_value if key.HasField("int64_value") else key.float_value)
        parts.append(f"{key.column}={value}")
    return ", ".join(parts) or "overall"


def threshold_text(threshold) -> str:
    if threshold.HasField("value_threshold"):
        bounds = threshold.value_threshold
        texts = []
        if bounds.HasField("lower_bound"):
            texts.append(f"needs >= {bounds.lower_bound.value:g}")
        if bounds.HasField("upper_bound"):
            texts.append(f"needs <= {bounds.upper_bound.value:g}")
        return ", ".join(texts)
    change = threshold.change_threshold
    return f"change against the baseline needs {'>=' if change.direction == 1 else '<='} {change.absolute.value:g}"


# --- text ------------------------------------------------------------------


def _slice_order(name: str):
    """overall first, then by column, numeric values in numeric order (hour=2 before hour=10)."""
    if name == "overall":
        return (0, ())
    parts = []
    for pair in name.split(", "):
        column, _, value = pair.partition("=")
        try:
            parts.append((column, 0, float(value), ""))
        except ValueError:
            parts.append((column, 1, 0.0, value))
    return (1, tuple(parts))


def format_summary(summary: RunSummary, not_run: list[str] = (), gate_message: Optional[str] = None,
                   error: Optional[str] = None) -> str:
    lines = [f"Pipeline {summary.pipeline}, run {summary.run_id}", ""]
    for component in summary.components:
        lines.append(f"  {component.node:<32} {component.state:<9} {component.seconds:7.1f} s")
    for node in not_run:
        lines.append(f"  {node:<32} {'not run':<9}")
    lines.append(f"  {'total':<32} {'':<9} {summary.total_seconds:7.1f} s")

    lines.append("")
    if summary.anomalies:
        lines.append(f"Data anomalies ({len(summary.anomalies)}):")
        lines += [f"  {a}" for a in summary.anomalies]
    elif summary.component("ExampleValidator"):
        lines.append("Data anomalies: none")

    if summary.metrics:
        lines += ["", "Evaluation (eval split):"]
        names = sorted({m for values in summary.metrics.values() for m in values})
        width = max(len(s) for s in summary.metrics)
        lines.append(f"  {'slice':<{width}}  " + "  ".join(f"{n:>14}" for n in names))
        for slice_key in sorted(summary.metrics, key=_slice_order):
            values = summary.metrics[slice_key]
            lines.append(f"  {slice_key:<{width}}  " + "  ".join(
                f"{values[n]:>14.4g}" if n in values else f"{'-':>14}" for n in names))

    if summary.blessed is not None:
        lines.append("")
        if summary.blessed:
            lines.append("Blessed: yes, every threshold met")
        else:
            lines.append("Blessed: NO")
            lines += [f"  {reason}" for reason in summary.blessing_reasons]
    if summary.infra_blessed is not None:
        from components.infra_validator.logic import DESCRIPTIONS

        platform = f"{summary.infra_platform} ({DESCRIPTIONS.get(summary.infra_platform, 'unknown platform')})"
        if summary.infra_blessed:
            lines.append(f"Infra validation: passed on {platform}")
        else:
            lines.append(f"Infra validation: FAILED on {platform}")
            lines.append(f"  {summary.infra_reason}")
    if summary.pushed_path:
        lines.append(f"Pushed: {summary.pushed_path}")
    elif summary.component("Pusher"):
        why = [what for what, ok in (("blessed by the Evaluator", summary.blessed),
                                     ("infra-validated", summary.infra_blessed)) if ok is False]
        lines.append(f"Pushed: nothing (the model is not {' nor '.join(why) or 'blessed'})")

    if gate_message:
        lines += ["", f"Stopped: {gate_message}"]
    elif error:
        lines += ["", f"Failed: {error}"]
    return "\n".join(lines)


# --- mlops runs --------------------------------------------------------------


@dataclass
class RunRow:
    run_id: str
    started: float  # unix seconds
    seconds: float
    outcome: str    # pushed | not blessed | gated | failed | incomplete


def run_outcome(components: list[ComponentRun]) -> str:
    failed = [c.node for c in components if c.state == "failed"]
    if failed:
        return "gated" if "DataGate" in failed else "failed"
    pusher = next((c for c in components if c.node == "Pusher"), None)
    if pusher is None or not pusher.outputs.get("pushed_model"):
        return "incomplete"
    pushed = int_property(pusher.outputs["pushed_model"][0], "pushed") == 1
    if pusher.state == "cached":
        return "cached"
    return "pushed" if pushed else "not blessed"


def list_runs(store, pipeline_name: str) -> list[RunRow]:
    rows = []
    for run in run_contexts(store, pipeline_name):
        executions = store.get_executions_by_context(run.id)
        if not executions:
            continue
        start = min(e.create_time_since_epoch for e in executions) / 1000
        end = max(e.last_update_time_since_epoch for e in executions) / 1000
        rows.append(RunRow(run.name, start, end - start, run_outcome(component_runs(store, pipeline_name, run.name))))
    return rows


def format_runs(pipeline_name: str, rows: list[RunRow]) -> str:
    import datetime

    if not rows:
        return f"Pipeline {pipeline_name}: no runs in ML Metadata"
    lines = [f"Pipeline {pipeline_name}: {len(rows)} runs", "",
             f"  {'run id':<28} {'started':<19} {'duration':>9}  outcome"]
    for row in rows:
        started = datetime.datetime.fromtimestamp(row.started).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"  {row.run_id:<28} {started:<19} {row.seconds:>7.1f} s  {row.outcome}")
    return "\n".join(lines)


def format_components(summary: RunSummary) -> str:
    lines = [f"Pipeline {summary.pipeline}, run {summary.run_id}", ""]
    lines += [f"  {c.node:<32} {c.state:<9} {c.seconds:7.1f} s" for c in summary.components]
    lines.append(f"  {'outcome':<32} {run_outcome(summary.components)}")
    return "\n".join(lines)
