"""What a pipeline's runs did, read back from ML Metadata and the artifacts they recorded:
one run's summary (`mlops run`, `mlops runs --run`) and the list of runs (`mlops runs`)."""
from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from pipelines.metadata.evaluation import read_evaluation, value_text
from pipelines.metadata.reader import MetadataReader, execution_seconds, execution_state, int_property, spans_of, string_property
from pipelines.metadata.reference import reference_lines, suspect_shares
from pipelines.model_server.platforms import DESCRIPTIONS
from pipelines.shared import component_ids as ids
from pipelines.shared import reference_model
from pipelines.shared.artifact_files import HELD_BACK_PROPERTY, LABEL_COUNTS_PROPERTY
from pipelines.shared.pseudonyms import FORGOTTEN_BY, HIDDEN_COLUMNS, PRIVACY_PROPERTY

# A run's outcome, from what its components recorded.
PUSHED, NOT_BLESSED, HELD_BACK, GATED, FAILED, CACHED, INCOMPLETE, RUNNING, INTERRUPTED = (
    "pushed", "not blessed", "held back", "gated", "failed", "cached", "incomplete", "running", "interrupted")


@dataclass
class ComponentRun:
    node: str
    state: str
    seconds: float
    outputs: dict[str, list] = field(default_factory=dict)  # output key -> MLMD artifacts
    started: float = 0.0  # unix seconds


@dataclass
class RunSummary:
    pipeline: str
    run_id: str
    components: list[ComponentRun]
    anomalies: list = field(default_factory=list)
    spans: str = ""                     # the span(s) the run read
    label_counts: dict = field(default_factory=dict)  # split -> {"examples", "unlabelled"}: rows left out
    filled: list = field(default_factory=list)  # Filled: each feature with missing cells and what they became
    features_config: Optional[Any] = None  # the FeaturesConfig Transform ran with (features and label)
    too_good: str = ""                  # why the model's skill over the trivial one is implausible, if it is
    explanation: dict = field(default_factory=dict)  # FeatureImportance's summary (pipelines/shared/importance.py)
    reference: dict = field(default_factory=dict)    # ReferenceModel's summary (pipelines/shared/reference_model.py)
    privacy: dict = field(default_factory=dict)  # ExampleGen's privacy record (pipelines/shared/pseudonyms.py)
    hidden: list = field(default_factory=list)   # columns whose statistics hold counts only (personal, pseudonymised)
    forgotten_by: str = ""              # forget requests whose rows the pushed model was trained on
    drift: list = field(default_factory=list)   # distances.Comparison, every compared feature
    drift_note: str = ""                # against which served version, or why nothing was compared
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # slice -> metric -> value
    blessed: Optional[bool] = None
    blessing_reasons: list[str] = field(default_factory=list)
    infra_blessed: Optional[bool] = None
    infra_platform: Optional[str] = None
    infra_reason: Optional[str] = None
    pushed_path: Optional[str] = None
    held_back: str = ""                 # why a blessed model was not pushed (short of the reference model)
    max_missing_labels: Optional[float] = None  # the data gate's label.max_missing_fraction
    outcome: str = INCOMPLETE

    def component(self, node: str) -> Optional[ComponentRun]:
        return next((c for c in self.components if c.node == node), None)

    def output(self, node: str, key: str):
        """The first artifact a component wrote under `key`, or None."""
        component = self.component(node)
        artifacts = component.outputs.get(key) if component else None
        return artifacts[0] if artifacts else None

    @property
    def importance(self) -> dict:
        """feature -> mean |attribution| (FeatureImportance), highest first; {} when the run has none."""
        return self.explanation.get("importance", {})

    @property
    def total_seconds(self) -> float:
        """From the first component's start to the last one's end: components that ran side by side
        (runner.parallel_components) count once. The sum where start times are not known."""
        if not self.components or any(not c.started for c in self.components):
            return sum(c.seconds for c in self.components)
        return (max(c.started + c.seconds for c in self.components)
                - min(c.started for c in self.components))


# --- reading MLMD ----------------------------------------------------------


def component_runs(reader: MetadataReader, run_id: str) -> list[ComponentRun]:
    executions = reader.run_executions(run_id)
    outputs = reader.outputs_by_key([e.id for e in executions])
    return [ComponentRun(reader.node_name(e), execution_state(e), execution_seconds(e), outputs.get(e.id, {}),
                         e.create_time_since_epoch / 1000)
            for e in executions]


def read_run_summary(reader: MetadataReader, run_id: Optional[str] = None, pipeline_running: bool = False) -> RunSummary:
    """What a run did (the latest run by default); LookupError when there is no such run.
    `pipeline_running`: whether a process runs the pipeline now (else a run left running was interrupted)."""
    run_id = run_id or reader.latest_run_id()
    if run_id is None:
        raise LookupError(f"pipeline {reader.pipeline_name!r} has no run in ML Metadata")
    summary = RunSummary(reader.pipeline_name, run_id, component_runs(reader, run_id))

    anomalies = summary.output(ids.EXAMPLE_VALIDATOR, "anomalies")
    if anomalies is not None:
        from pipelines.shared.anomalies import empty_splits, read_anomalies

        statistics = summary.output(ids.STATISTICS_GEN, "statistics")
        summary.anomalies = read_anomalies(anomalies.uri) + (empty_splits(statistics.uri) if statistics else [])

    examples = summary.output(ids.EXAMPLE_GEN, "examples")
    if examples is not None:
        summary.spans = spans_of(examples)
        summary.label_counts = json.loads(string_property(examples, LABEL_COUNTS_PROPERTY) or "{}")
        summary.privacy = json.loads(string_property(examples, PRIVACY_PROPERTY) or "{}")
    # What Transform ran with (its custom_config) and the statistics of the data it read, for both what missing
    # values became and whether the model is too good to be true: read once.
    statistics = summary.output(ids.STATISTICS_GEN, "statistics")
    executions = reader.run_executions(run_id)
    transform = next((e for e in executions if reader.node_name(e) == ids.TRANSFORM), None)
    statistics_gen = next((e for e in executions if reader.node_name(e) == ids.STATISTICS_GEN), None)
    if statistics_gen is not None:
        summary.hidden = json.loads(string_property(statistics_gen, HIDDEN_COLUMNS) or "[]")
    summary.max_missing_labels = max_missing_labels(reader, executions)
    features, by_split = transformed_with(transform, statistics)
    summary.features_config = features
    if features is not None:
        summary.filled = missing_values(features, by_split.get("train"))
    drift = summary.output(ids.DRIFT_CHECK, "drift")
    if drift is not None:
        from pipelines.shared import distances

        summary.drift = distances.read_comparisons(drift.uri)
        not_compared = string_property(drift, "not_compared")
        summary.drift_note = (f"not checked: {not_compared}" if not_compared else
                              f"against the training data of served version {string_property(drift, 'served_version')}")

    evaluation = summary.output(ids.EVALUATOR, "evaluation")
    if evaluation is not None:
        summary.metrics, summary.blessing_reasons = read_evaluation(evaluation.uri)
        if features is not None:
            summary.too_good = too_good_note(summary.metrics.get("overall", {}), evaluation.uri, features,
                                             by_split.get("eval"))
    add_reference(summary)
    add_importance(summary)
    add_verdicts(summary)
    summary.outcome = run_outcome(summary.components, pipeline_running)
    return summary


def max_missing_labels(reader: MetadataReader, executions: list) -> Optional[float]:
    """The data gate's limit on rows without a label, as its execution recorded it."""
    gate = next((e for e in executions if reader.node_name(e) == ids.DATA_GATE), None)
    config = json.loads(string_property(gate, "config") or "{}") if gate is not None else {}
    return config.get("max_missing_labels")


def add_verdicts(summary: RunSummary) -> None:
    """The Evaluator's and InfraValidator's blessings, and what the Pusher did."""
    blessing = summary.output(ids.EVALUATOR, "blessing")
    if blessing is not None:
        summary.blessed = int_property(blessing, "blessed") == 1
    infra_blessing = summary.output(ids.INFRA_VALIDATOR, "blessing")
    if infra_blessing is not None:
        summary.infra_blessed = int_property(infra_blessing, "blessed") == 1
        summary.infra_platform = string_property(infra_blessing, "platform")
        summary.infra_reason = string_property(infra_blessing, "reason")
    pushed = summary.output(ids.PUSHER, "pushed_model")
    if pushed is None:
        return
    summary.held_back = string_property(pushed, HELD_BACK_PROPERTY) or ""
    if int_property(pushed, "pushed") == 1:
        summary.pushed_path = string_property(pushed, "pushed_destination")
        summary.forgotten_by = string_property(pushed, FORGOTTEN_BY) or ""


def add_reference(summary: RunSummary) -> None:
    """The reference model's scores; a reference that is too good to be true flags the run too."""
    reference = summary.output(ids.REFERENCE_MODEL, "reference")
    if reference is None:
        return
    summary.reference = reference_model.read(reference.uri)
    if not summary.too_good and (summary.reference.get("skill") or 0) >= TOO_GOOD_SKILL:
        summary.too_good = (f"the reference model ({summary.reference['description']}) removes "
                            f"{summary.reference['skill']:.1%} of the trivial model's error on the eval split: a "
                            "feature likely gives the label away (a column known only after the outcome, or computed "
                            "from it)")


def add_importance(summary: RunSummary) -> None:
    """What the model relies on (FeatureImportance), and in a too-good-to-be-true note, the feature it leans on
    most: the likeliest leak."""
    explained = summary.output(ids.FEATURE_IMPORTANCE, "feature_importance")
    if explained is None:
        return
    from pipelines.shared import importance

    summary.explanation = importance.read(explained.uri)
    if summary.too_good and summary.importance:
        top, share = next(iter(importance.shares(summary.importance).items()))
        summary.too_good += f"; it relies most on {top} ({share:.0%} of the attribution)"


@dataclass(frozen=True)
class Filled:
    feature: str
    missing: float  # the share of training examples without a value
    becomes: str    # "mean 29.7", "median 3", "0 (default)", "its own category"


def transformed_with(transform, statistics) -> tuple:
    """(the features config Transform ran with, split -> the whole-dataset statistics of that split), or
    (None, {}) when the run has no Transform or no statistics."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    from pipelines.config import features_config_from_json
    from pipelines.shared.artifact_files import STATISTICS_FILE, per_split

    config_json = json.loads(string_property(transform, "custom_config") or "{}").get("config") if transform else None
    if not config_json or statistics is None:
        return None, {}
    by_split = {split: proto.datasets[0] for split, proto in
                per_split(statistics.uri, STATISTICS_FILE, statistics_pb2.DatasetFeatureStatisticsList) if proto.datasets}
    return features_config_from_json(config_json), by_split


def feature_statistics(dataset, name: str):
    """One feature's statistics in a dataset's, or None."""
    return next((f for f in dataset.features if (".".join(f.path.step) or f.name) == name), None)


def missing_values(features_config, train) -> list[Filled]:
    """Each feature with missing cells in the training split (`train`: its statistics), and what Transform
    filled them with: the config Transform ran with says how; the training statistics give the mean or median
    it computed over the same values (TFDV's median is approximate, as Transform's quantile is)."""
    if train is None or not train.num_examples:
        return []
    filled = []
    for feature in features_config.features:
        found = feature_statistics(train, feature.name)
        if found is None:
            continue
        numeric = found.HasField("num_stats")
        common = found.num_stats.common_stats if numeric else found.string_stats.common_stats
        if not common.num_missing:
            continue
        if feature.kind in ("numeric", "bucketized"):
            if feature.default is not None:
                becomes = f"{feature.default:g} (default)"
            else:
                becomes = f"{feature.impute} {getattr(found.num_stats, feature.impute):.4g}"
            if getattr(feature, "missing_indicator", False):
                becomes += ", with a missing-indicator input"
        elif feature.kind == "int_categorical" and feature.default is not None:
            becomes = f"{feature.default} (default)"
        else:
            becomes = "its own category"
        filled.append(Filled(feature.name, common.num_missing / train.num_examples, becomes))
    return filled


TOO_GOOD_SKILL = 0.98  # the model removes this share of the trivial model's error, or more: check for leaks


def skill_over_trivial(metrics: dict[str, float], positives: Optional[float], negatives: Optional[float],
                       majority_share: Optional[float], label_variance: Optional[float]) -> Optional[tuple[str, float]]:
    """(what was compared, the share of the trivial model's error the model removes): accuracy against always
    answering the commonest class, mean squared error against always answering the mean. None when the
    numbers for it are missing."""
    if "binary_accuracy" in metrics and positives is not None and negatives and positives:
        trivial = max(positives, negatives) / (positives + negatives)
        return "binary_accuracy", (metrics["binary_accuracy"] - trivial) / (1 - trivial)
    if "sparse_categorical_accuracy" in metrics and majority_share is not None and majority_share < 1:
        return "sparse_categorical_accuracy", (metrics["sparse_categorical_accuracy"] - majority_share) / (1 - majority_share)
    if "mean_squared_error" in metrics and label_variance:
        return "mean_squared_error", 1 - metrics["mean_squared_error"] / label_variance
    return None


def too_good_note(overall: dict[str, float], evaluation_uri: str, features_config, evaluation) -> str:
    """A warning when the model is implausibly good: nearly all of the trivial model's error removed. Such a
    model most often learns from a column that gives the label away. (Not AUC alone: honest models of easy
    tables, breast cancer cells for one, reach 0.996.) `evaluation`: the eval split's statistics."""
    import math

    from pipelines.metadata.evaluation import read_confusion_matrices

    matrix = next(iter(read_confusion_matrices(evaluation_uri).get("overall", {}).values()), None)
    positives, negatives = (matrix["tp"] + matrix["fn"], matrix["fp"] + matrix["tn"]) if matrix else (None, None)
    majority, variance = None, None
    column = feature_statistics(evaluation, features_config.label.column) if evaluation is not None else None
    if column is not None and column.HasField("num_stats"):
        variance = column.num_stats.std_dev ** 2
    if column is not None and column.HasField("string_stats") and column.string_stats.top_values:
        present = column.string_stats.common_stats.num_non_missing
        majority = column.string_stats.top_values[0].frequency / present if present else None
    skill = skill_over_trivial(overall, positives, negatives, majority, variance)
    if skill is None or math.isnan(skill[1]) or skill[1] < TOO_GOOD_SKILL:
        return ""
    return (f"{skill[0]} removes {skill[1]:.1%} of the trivial model's error on the eval split: too good to be true "
            "for most data; check that no feature gives the label away (a column known only after the outcome, or "
            "computed from it)")


# --- mlops runs --------------------------------------------------------------


@dataclass
class RunRow:
    run_id: str
    started: float  # unix seconds
    seconds: float
    outcome: str
    spans: str = ""


def run_outcome(components: list[ComponentRun], pipeline_running: bool = False) -> str:
    failed = [c.node for c in components if c.state == "failed"]
    if failed:
        return GATED if ids.DATA_GATE in failed else FAILED
    if any(c.state == "canceled" for c in components):
        return INTERRUPTED
    if any(c.state in ("running", "new") for c in components):  # until the next run recovers it
        return RUNNING if pipeline_running else INTERRUPTED
    pusher = next((c for c in components if c.node == ids.PUSHER), None)
    if pusher is None or not pusher.outputs.get("pushed_model"):
        return INCOMPLETE
    if pusher.state == "cached":
        return CACHED
    pushed = pusher.outputs["pushed_model"][0]
    if int_property(pushed, "pushed") == 1:
        return PUSHED
    return HELD_BACK if string_property(pushed, HELD_BACK_PROPERTY) else NOT_BLESSED


def list_runs(reader: MetadataReader, pipeline_running: bool = False) -> list[RunRow]:
    rows = []
    for run in reader.run_contexts():
        components = component_runs(reader, run.name)
        if not components:
            continue
        start = min(c.started for c in components)
        end = max(c.started + c.seconds for c in components)
        example_gen = next((c for c in components if c.node == ids.EXAMPLE_GEN and c.outputs.get("examples")), None)
        spans = spans_of(example_gen.outputs["examples"][0]) if example_gen else ""
        rows.append(RunRow(run.name, start, end - start, run_outcome(components, pipeline_running), spans))
    return rows


# --- text ------------------------------------------------------------------


def slice_order(name: str):
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


def format_summary(summary: RunSummary, not_run: Sequence[str] = (), error: Optional[str] = None) -> str:
    """The summary `mlops run` prints; `error`: why the run failed, when it did and was not gated."""
    sections = (_timings(summary, not_run), _data_lines(summary), _drift_lines(summary), _metric_lines(summary),
                reference_lines(summary.metrics.get("overall", {}), summary.reference), suspect_lines(summary),
                _verdict_lines(summary), _ending(summary, error))
    return "\n".join(line for section in sections for line in section)


def _timings(summary: RunSummary, not_run: Sequence[str]) -> list[str]:
    span = f", span {summary.spans}" if summary.spans else ""
    lines = [f"Pipeline {summary.pipeline}, run {summary.run_id}{span}", ""]
    lines += [f"  {c.node:<32} {c.state:<9} {c.seconds:7.1f} s" for c in summary.components]
    lines += [f"  {node:<32} {'not run':<9}" for node in not_run]
    return lines + [f"  {'total':<32} {'':<9} {summary.total_seconds:7.1f} s", ""]


def _data_lines(summary: RunSummary) -> list[str]:
    lines = []
    if summary.anomalies:
        lines.append(f"Data anomalies ({len(summary.anomalies)}):")
        lines += [f"  {a}" for a in summary.anomalies]
    elif summary.component(ids.EXAMPLE_VALIDATOR):
        lines.append("Data anomalies: none")
    if summary.label_counts:
        lines.append(missing_labels_line(summary.label_counts))
    if summary.filled:
        lines.append("Missing values (share of training rows -> what they became):")
        lines += [f"  {f.feature:<28} {share_text(f.missing):>6} -> {f.becomes}" for f in summary.filled]
    return lines + privacy_lines(summary)


def privacy_lines(summary: RunSummary) -> list[str]:
    """What ingestion did for privacy and the k-anonymity it measured, in names and counts, never values."""
    done, k = privacy_done(summary), summary.privacy.get("k_anonymity")
    return ([f"Privacy: {'; '.join(done)}"] if done else []) + ([k_anonymity_line(k)] if k else [])


def privacy_done(summary: RunSummary) -> list[str]:
    """["pseudonymised customer_id, email", "dropped name", "counts only for age", "3 rows of 2 forgotten IDs
    left out"]: each what the run did, when it did it."""
    record = summary.privacy
    done = [f"{what} {', '.join(record[key])}" for what, key in (("pseudonymised", "pseudonymized"),
                                                                  ("dropped", "dropped")) if record.get(key)]
    personal = sorted(set(summary.hidden) - set(record.get("pseudonymized", [])))
    if personal:
        done.append(f"counts only for {', '.join(personal)}")
    if record.get("forgotten_ids"):
        done.append(f"{record.get('forgotten_rows', 0)} rows of {record['forgotten_ids']} forgotten IDs left out")
    return done


def k_anonymity_line(k: dict) -> str:
    """"k-anonymity over age, postcode: k = 1; 598 of 598 rows (100.0%) in groups of fewer than 5"."""
    return (f"k-anonymity over {', '.join(k['quasi_identifiers'])}: k = {k['k']}; {k['rows_in_small_groups']} of "
            f"{k['rows']} rows ({share_text(k['share_in_small_groups'])}) in groups of fewer than {k['small_group']}")


def _drift_lines(summary: RunSummary) -> list[str]:
    if not summary.drift_note:
        return []
    if not summary.drift:
        return ["", f"Drift ({summary.drift_note}): none measured"]
    from pipelines.shared.distances import format_comparisons  # protobuf modules: only when there is drift to show

    drifted = [c for c in summary.drift if c.exceeded]
    return ["", f"Drift ({summary.drift_note}): {len(drifted)} of {len(summary.drift)} comparisons over their "
                "threshold"] + [f"  {line}" for line in format_comparisons(summary.drift)]


def _metric_lines(summary: RunSummary) -> list[str]:
    if not summary.metrics:
        return []
    names = sorted({m for values in summary.metrics.values() for m in values})
    width = max(len(s) for s in summary.metrics)
    label = summary.features_config.label if summary.features_config is not None else None
    positive = f"; positive class: {label.positive_class}" if label is not None and label.head == "binary" else ""
    lines = ["", f"Evaluation (eval split{positive}):", f"  {'slice':<{width}}  " + "  ".join(f"{n:>14}" for n in names)]
    for slice_key in sorted(summary.metrics, key=slice_order):
        values = summary.metrics[slice_key]
        lines.append(f"  {slice_key:<{width}}  " + "  ".join(value_text(values.get(n), 14) for n in names))
    return lines


def suspect_lines(summary: RunSummary) -> list[str]:
    """The features `mlops init` flagged, with the share of the model's attribution each takes."""
    found = suspect_shares(summary.reference.get("suspects") or {}, summary.importance)
    lines = ["", "Suspects (check that each is known before the outcome):"] if found else []
    for name, share, why in found:
        taken = "attribution not measured" if share is None else f"{share:.0%} of the model's attribution"
        lines.append(f"  {name}: {taken}; {why}")
    return lines


def _verdict_lines(summary: RunSummary) -> list[str]:
    lines = []
    if summary.importance:
        from pipelines.shared.importance import shares

        top = list(shares(summary.importance).items())[:3]
        lines += ["", "Relies most on (share of mean |attribution|): "
                  + ", ".join(f"{name} {share:.0%}" for name, share in top)]
    if summary.too_good:
        lines += ["", f"Too good to be true? {summary.too_good}"]
    if summary.blessed is not None:
        lines.append("")
        if summary.component(ids.EVALUATOR) and not summary.component(ids.BASELINE_RESOLVER):
            lines.append("Baseline: none (evaluation.baseline: none): judged on the thresholds' bounds alone")
        if summary.blessed:
            lines.append("Blessed: yes, every threshold met")
        else:
            lines += ["Blessed: NO"] + [f"  {reason}" for reason in summary.blessing_reasons]
    if summary.infra_blessed is not None:
        platform = f"{summary.infra_platform} ({DESCRIPTIONS.get(summary.infra_platform or '', 'unknown platform')})"
        if summary.infra_blessed:
            lines.append(f"Infra validation: passed on {platform}")
        else:
            lines += [f"Infra validation: FAILED on {platform}", f"  {summary.infra_reason}"]
    if summary.pushed_path:
        lines.append(f"Pushed: {summary.pushed_path}")
        if summary.forgotten_by:
            lines.append(f"  trained on rows forgotten since (forget request {summary.forgotten_by}): run again to "
                         "replace it")
    elif summary.held_back:
        lines.append(f"Pushed: nothing (held back: {summary.held_back})")
    elif summary.component(ids.PUSHER):
        why = [what for what, ok in (("blessed by the Evaluator", summary.blessed),
                                     ("infra-validated", summary.infra_blessed)) if ok is False]
        lines.append(f"Pushed: nothing (the model is not {' nor '.join(why) or 'blessed'})")
    return lines


def _ending(summary: RunSummary, error: Optional[str]) -> list[str]:
    if summary.outcome == GATED:
        found = [what for what, seen in (("anomalies", summary.anomalies),
                                         ("drift", any(c.exceeded for c in summary.drift))) if seen]
        if not found and any(c["unlabelled"] for c in summary.label_counts.values()):
            limit = f" {summary.max_missing_labels:g}" if summary.max_missing_labels is not None else ""
            found = [f"too many rows without a label ({missing_labels_line(summary.label_counts).split(': ', 1)[1]}; "
                     f"label.max_missing_fraction{limit})"]
        k = summary.privacy.get("k_anonymity", {})
        if not found and k.get("min_k") and k["k"] < k["min_k"]:
            found = [f"groups of rows too small to stay anonymous (k = {k['k']}, privacy.min_k {k['min_k']})"]
        return ["", f"Stopped: the data gate found {' and '.join(found) or 'a problem'}; nothing was trained or pushed"]
    return ["", f"Failed: {error}"] if error else []


def share_text(share: float) -> str:
    """A share as a percentage; "<0.1%" rather than a misleading "0.0%" for a few rows."""
    return "<0.1%" if 0 < share < 0.0005 else f"{share:.1%}"


def missing_labels_line(label_counts: dict) -> str:
    """"Missing labels: 168 of 2700 rows left out (train 110 of 1800, eval 58 of 900)", or none."""
    unlabelled = sum(c["unlabelled"] for c in label_counts.values())
    if not unlabelled:
        return "Missing labels: none"
    rows = sum(c["examples"] + c["unlabelled"] for c in label_counts.values())
    per_split = ", ".join(f"{split} {c['unlabelled']} of {c['examples'] + c['unlabelled']}"
                          for split, c in label_counts.items())
    return (f"Missing labels: {unlabelled} of {rows} rows ({unlabelled / rows:.1%}) left out of training and "
            f"evaluation ({per_split})")


def format_runs(pipeline_name: str, rows: list[RunRow]) -> str:
    if not rows:
        return f"Pipeline {pipeline_name}: no runs in ML Metadata"
    lines = [f"Pipeline {pipeline_name}: {len(rows)} runs", "",
             f"  {'run id':<28} {'started':<19} {'duration':>9}  {'span':<8} outcome"]
    for row in rows:
        started = datetime.datetime.fromtimestamp(row.started).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"  {row.run_id:<28} {started:<19} {row.seconds:>7.1f} s  {row.spans or '-':<8} {row.outcome}")
    return "\n".join(lines)


def format_components(summary: RunSummary) -> str:
    lines = [f"Pipeline {summary.pipeline}, run {summary.run_id}", ""]
    lines += [f"  {c.node:<32} {c.state:<9} {c.seconds:7.1f} s" for c in summary.components]
    lines.append(f"  {'outcome':<32} {summary.outcome}")
    return "\n".join(lines)
