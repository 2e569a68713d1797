"""What the run report shows, gathered from ML Metadata and the run's artifacts (no TensorFlow): the
run summary, per-feature data views, metrics per slice for the candidate and the baseline, and each
threshold with its verdict."""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from pipelines.metadata import evaluation, lineage, registry, runs
from pipelines.metadata.reader import MetadataReader, plain_value
from pipelines.report.data_views import FeatureView, feature_views
from pipelines.shared import component_ids as ids
from pipelines.shared import metric_names


@dataclass
class Verdict:
    """One threshold of the run's eval config, judged on one slice."""
    metric: str           # TFMA metric name, e.g. binary_accuracy
    slice: str
    kind: str             # "value" or "change"
    requirement: str      # "needs >= 0.6"
    value: Optional[float]
    met: bool


@dataclass
class Report:
    summary: runs.RunSummary
    config_path: str
    config_digest: str
    data: dict[str, object] = field(default_factory=dict)         # the examples artifact's uri, span, version
    model: dict[str, object] = field(default_factory=dict)        # the candidate model: id, uri
    baseline_model: Optional[dict[str, object]] = None            # what the Evaluator compared against
    features: list[FeatureView] = field(default_factory=list)
    metrics: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # slice -> metric -> model -> value
    verdicts: list[Verdict] = field(default_factory=list)
    confusion: dict[str, dict[float, dict[str, float]]] = field(default_factory=dict)  # slice -> threshold -> cells
    calibration: dict[str, list[tuple]] = field(default_factory=dict)  # slice -> (low, high, n, label, prediction)
    class_confusion: dict[str, dict[tuple[int, int], float]] = field(default_factory=dict)  # slice -> (actual, predicted)
    importance: Optional[dict[str, Any]] = None  # FeatureImportance's summary (pipelines/shared/importance.py)
    roles: dict[str, str] = field(default_factory=dict)  # column -> "feature (numeric)", "label: ...", "left out: why"
    lineage_of: Optional[str] = None                                   # what the lineage graph leads to
    lineage_nodes: list[tuple[str, str, str]] = field(default_factory=list)  # (key, label, kind)
    lineage_edges: list[tuple[str, str]] = field(default_factory=list)


def gather(reader: MetadataReader, config_path: str, run_id: Optional[str] = None) -> Report:
    """The report of a run (the latest by default); LookupError when there is no such run."""
    summary = runs.read_run_summary(reader, run_id)
    report = Report(summary, config_path, file_digest(config_path))

    examples = summary.output(ids.EXAMPLE_GEN, "examples")
    if examples is not None:
        report.data = artifact_facts(examples)
    model = summary.output(ids.TRAINER, "model")
    if model is not None:
        report.model = artifact_facts(model)
    statistics = summary.output(ids.STATISTICS_GEN, "statistics")
    if statistics is not None:
        report.features = feature_views(statistics.uri)
        for anomaly in summary.anomalies:
            view = next((f for f in report.features if f.name == anomaly.feature), None)
            if view is not None:
                view.anomalies.append(f"{anomaly.split}: {anomaly.description}")

    add_evaluation(report, reader)
    if summary.features_config is not None:
        report.roles = column_roles([f.name for f in report.features], summary.features_config, config_path)
    report.importance = summary.explanation or None

    # Lineage: from the data to what was pushed (or to the model, when nothing was).
    pushed = summary.output(ids.PUSHER, "pushed_model")
    target = pushed if pushed is not None and summary.pushed_path else model
    if target is not None:
        graph = lineage.upstream(reader, target.id)
        report.lineage_of = f"{reader.artifact_type(target)} {target.id}"
        report.lineage_nodes = [(n.key, f"{n.name} #{n.id}" if n.kind == "execution" else f"{n.type} {n.id}", n.kind)
                                for n in sorted(graph.nodes.values(), key=lambda n: (n.id, n.kind))]
        report.lineage_edges = sorted(graph.edges)

    # Model versions as `mlops models` numbers them: the first push of each model.
    versions: dict[int, str] = {}
    for version in registry.model_versions(reader, with_metrics=False):
        versions.setdefault(version.model_id, version.version)
    for facts in (report.model, report.baseline_model):
        if facts and facts["id"] in versions:
            facts["pushed as version"] = versions[facts["id"]]
    return report


def add_evaluation(report: Report, reader: MetadataReader) -> None:
    """The Evaluator's metrics, verdicts and plots, and the baseline it compared against (with its data)."""
    summary = report.summary
    result = summary.output(ids.EVALUATOR, "evaluation")
    if result is None:
        return
    report.metrics = evaluation.read_metric_table(result.uri)
    report.verdicts = verdicts(result.uri, report.metrics)
    report.confusion = evaluation.read_confusion_matrices(result.uri)
    report.calibration = evaluation.read_calibration(result.uri)
    report.class_confusion = evaluation.read_class_confusion(result.uri)
    execution = next(e for e in reader.run_executions(summary.run_id) if reader.node_name(e) == ids.EVALUATOR)
    baseline = reader.inputs_of(execution.id).get("baseline_model")
    if baseline:
        report.baseline_model = artifact_facts(baseline[0])
        add_baseline_data(report.features, lineage.training_statistics(reader, baseline[0].id))


LEFT_OUT = re.compile(r"#\s*left out (.+?): (.+)$")  # the comments `mlops init` writes for each column it leaves out


def column_roles(columns: list[str], features_config, config_path: str) -> dict[str, str]:
    """Each data column's part in the run: a feature (its kind), the label's source, or left out, with the
    reason `mlops init` wrote into the config when it is there."""
    reasons = {}
    if os.path.isfile(config_path):
        with open(config_path) as f:
            for line in f:
                found = LEFT_OUT.search(line.strip())
                if found:
                    reasons[found.group(1)] = found.group(2)
    kinds = {f.name: f.kind for f in features_config.features}
    label = features_config.label
    roles = {}
    for column in columns:
        if column in kinds:
            roles[column] = f"feature ({kinds[column]})"
        elif column in label.source_columns:
            roles[column] = f"label: {label.name} is computed from it"
        else:
            roles[column] = "left out: " + reasons.get(column, "not among the config's features")
    return roles


BASELINE_DATA = "baseline's train"  # the split name the baseline model's training data is shown under


def add_baseline_data(features: list[FeatureView], statistics) -> None:
    """The baseline model's training data beside this run's splits, feature by feature."""
    if statistics is None:
        return
    theirs = {view.name: view for view in feature_views(statistics.uri)}
    for view in features:
        other = theirs.get(view.name)
        if other is None or "train" not in other.examples:
            continue
        view.examples[BASELINE_DATA] = other.examples["train"]
        view.missing[BASELINE_DATA] = other.missing["train"]
        if "train" in other.histogram:
            view.histogram[BASELINE_DATA] = other.histogram["train"]
        if "train" in other.top_values:
            view.top_values[BASELINE_DATA] = other.top_values["train"]


def artifact_facts(artifact) -> dict[str, Any]:
    facts: dict[str, Any] = {"id": artifact.id, "uri": artifact.uri}
    for properties in (artifact.properties, artifact.custom_properties):  # TFX declares some, adds others
        for name, value in sorted(properties.items()):
            if name in ("span", "version"):
                facts[name] = plain_value(value)
    return facts


def file_digest(path: str) -> str:
    if not os.path.isfile(path):
        return "(config file not found)"
    with open(path, "rb") as f:
        return "sha256:" + hashlib.sha256(f.read()).hexdigest()[:16]


def metric_name(class_name: str) -> str:
    """TFMA's default metric name of a metric class: BinaryAccuracy -> binary_accuracy, AUC -> auc."""
    words = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", class_name)
    return re.sub(r"([a-z\d])([A-Z])", r"\1_\2", words).lower()


def verdicts(evaluation_uri: str, metrics: dict[str, dict[str, dict[str, float]]]) -> list[Verdict]:
    """Each threshold of the eval config TFMA wrote for this run, with the value it judged and whether it
    was met (a failure in TFMA's validation result is authoritative)."""
    path = os.path.join(evaluation_uri, "eval_config.json")
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        config = json.load(f).get("evalConfig", {})
    failures = {(f.metric, f.slice) for f in evaluation.read_failures(evaluation_uri)}
    found = []
    for spec in config.get("metricsSpecs", []):
        for metric in spec.get("metrics", []):
            name = metric.get("config") and json.loads(metric["config"]).get("name") or metric_name(metric["className"])
            for per_slice in metric.get("perSliceThresholds", []):
                for slicing in per_slice.get("slicingSpecs", [{}]):
                    slice_key = slice_of(slicing)
                    values = metrics.get(slice_key, {}).get(name, {})
                    threshold = per_slice.get("threshold", {})
                    if "valueThreshold" in threshold:
                        bounds = threshold["valueThreshold"]
                        requirement = ", ".join(f"needs {sign} {bounds[bound]:g}" for bound, sign in
                                                (("lowerBound", ">="), ("upperBound", "<=")) if bound in bounds)
                        found.append(Verdict(name, slice_key, "value", requirement, values.get(metric_names.CANDIDATE),
                                             (name, slice_key) not in failures))
                    if "changeThreshold" in threshold:
                        change = threshold["changeThreshold"]
                        sign = ">=" if change.get("direction") == "HIGHER_IS_BETTER" else "<="
                        found.append(Verdict(name, slice_key, "change",
                                             f"change against the baseline needs {sign} {change.get('absolute', 0):g}",
                                             values.get(metric_names.CHANGE), (f"{name} (change)", slice_key) not in failures))
    return found


def slice_of(slicing_spec: dict) -> str:
    """The slice name evaluation.slice_name gives a SlicingSpec with fixed values (the overall one: {})."""
    values = slicing_spec.get("featureValues", {})
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "overall"
