"""The Evaluator's output read without TensorFlow: metrics per slice and the failed thresholds.

TFMA writes MetricsForSlice and ValidationResult protos into TFRecord files (`metrics*`,
`validations*`) under the evaluation artifact's URI. `tfma.load_metrics` reads them too, but importing
TFMA imports TensorFlow (8 s); the protos and the TFRecord framing need neither, which keeps
`mlops models` and the other read commands instant.
"""
from __future__ import annotations

import glob
import importlib
import importlib.util
import math
import os
import struct
import sys
import types
from dataclasses import dataclass
from typing import Iterator, Optional

from pipelines.shared.metric_names import BASELINE, CANDIDATE, CHANGE, FALSE_NEGATIVE_RATE, FALSE_POSITIVE_RATE

TFMA = "tensorflow_model_analysis"
PROTO_MODULES = ("config_pb2", "metrics_for_slice_pb2", "validation_result_pb2")



def read_metric_table(uri: str) -> dict[str, dict[str, dict[str, float]]]:
    """slice -> metric -> {"candidate": v, "baseline": v, "change": candidate - baseline}; the last two only
    when the Evaluator had a baseline. NaN stays NaN (TFMA writes it as a double), and a metric that is
    undefined on its slice (see undefined_metrics) is NaN too, whatever TFMA wrote (it writes AUC 0)."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    matrices: dict[str, dict[float, dict[str, float]]] = {}
    for per_slice in metrics_for_slices(uri):  # one pass: the values, and the matrices that say which are undefined
        name = slice_name(per_slice.slice_key)
        values = table.setdefault(name, {})
        for kv in per_slice.metric_keys_and_values:
            if kv.value.HasField("double_value"):  # plots and arrays are not metrics of the table
                model = CHANGE if kv.key.is_diff else (BASELINE if kv.key.model_name == BASELINE else CANDIDATE)
                values.setdefault(kv.key.name, {})[model] = kv.value.double_value.value
        found = confusion_matrices_of(per_slice)
        if found:
            matrices[name] = found
    for name, undefined in undefined_by_slice(table, matrices).items():
        for metric in undefined:
            table[name][metric] = {model: math.nan for model in table[name][metric]}
    return table


def metrics_for_slices(uri: str):
    """The MetricsForSlice protos TFMA wrote under an evaluation's URI."""
    protos = tfma_protos()
    for record in tfrecords(uri, "metrics"):
        yield protos.metrics_for_slice_pb2.MetricsForSlice.FromString(record)


# Binary metrics that need both classes, or one of them, among a slice's labels.
NEED_BOTH_CLASSES = ("auc",)
NEED_POSITIVES = ("auc_precision_recall", "recall", FALSE_NEGATIVE_RATE)
NEED_NEGATIVES = ("specificity", FALSE_POSITIVE_RATE)


def undefined_metrics(metrics: list[str], examples: Optional[float], positives: Optional[float],
                      negatives: Optional[float]) -> dict[str, str]:
    """metric -> why it has no value on a slice: no example at all, or (binary labels, where the counts of
    positive and negative labels are known) a class missing that the metric divides by."""
    if examples == 0:
        return {m: "the slice has no example" for m in metrics if m != "example_count"}
    undefined = {}
    for metric in metrics:
        base = metric.partition("@")[0]
        if base in NEED_BOTH_CLASSES and (positives == 0 or negatives == 0):
            undefined[metric] = "the slice holds one class only"
        elif base in NEED_POSITIVES and positives == 0:
            undefined[metric] = "the slice has no positive label"
        elif base in NEED_NEGATIVES and negatives == 0:
            undefined[metric] = "the slice has no negative label"
    return undefined


def undefined_by_slice(table: dict[str, dict[str, dict[str, float]]],
                       matrices: dict[str, dict[float, dict[str, float]]]) -> dict[str, dict[str, str]]:
    """slice -> undefined_metrics of the slice; the class counts come from the confusion matrices that the
    eval config asks for with every binary label."""
    found = {}
    for name, values in table.items():
        examples = values.get("example_count", {}).get(CANDIDATE)
        matrix = next(iter(matrices[name].values()), None) if matrices.get(name) else None
        positives = matrix["tp"] + matrix["fn"] if matrix else None
        negatives = matrix["fp"] + matrix["tn"] if matrix else None
        undefined = undefined_metrics(list(values), examples, positives, negatives)
        if undefined:
            found[name] = undefined
    return found


def read_confusion_matrices(uri: str) -> dict[str, dict[float, dict[str, float]]]:
    """slice -> decision threshold -> {"tp", "fp", "tn", "fn"}: the candidate's confusion matrices, where the
    eval config asked for them (ConfusionMatrixAtThresholds)."""
    found = {}
    for per_slice in metrics_for_slices(uri):
        matrices = confusion_matrices_of(per_slice)
        if matrices:
            found[slice_name(per_slice.slice_key)] = matrices
    return found


def confusion_matrices_of(per_slice) -> dict[float, dict[str, float]]:
    """decision threshold -> {"tp", "fp", "tn", "fn"} of the candidate in one MetricsForSlice ({} when none)."""
    found: dict[float, dict[str, float]] = {}
    for kv in per_slice.metric_keys_and_values:
        if kv.value.HasField("confusion_matrix_at_thresholds") and not kv.key.is_diff \
                and kv.key.model_name != BASELINE:
            found = {round(m.threshold, 6): {"tp": m.true_positives, "fp": m.false_positives,
                                             "tn": m.true_negatives, "fn": m.false_negatives}
                     for m in kv.value.confusion_matrix_at_thresholds.matrices}
    return found


def candidate_plots(uri: str, kind: str):
    """(slice name, plot) of each of the candidate's plots of one kind (a PlotData field) TFMA wrote."""
    protos = tfma_protos()
    for record in tfrecords(uri, "plots"):
        per_slice = protos.metrics_for_slice_pb2.PlotsForSlice.FromString(record)
        for kv in per_slice.plot_keys_and_values:
            if kv.value.HasField(kind) and kv.key.model_name != BASELINE:
                yield slice_name(per_slice.slice_key), getattr(kv.value, kind)


def read_calibration(uri: str) -> dict[str, list[tuple[float, float, float, float, float]]]:
    """slice -> calibration buckets (low, high, examples, mean label, mean prediction) of the candidate, where
    the eval config asked for a CalibrationPlot; empty buckets and TFMA's two open-ended ones are left out."""
    return {name: [(b.lower_threshold_inclusive, b.upper_threshold_exclusive, b.num_weighted_examples.value,
                    b.total_weighted_label.value / b.num_weighted_examples.value,
                    b.total_weighted_refined_prediction.value / b.num_weighted_examples.value)
                   for b in plot.buckets
                   if b.num_weighted_examples.value > 0 and abs(b.lower_threshold_inclusive) != float("inf")
                   and abs(b.upper_threshold_exclusive) != float("inf")]
            for name, plot in candidate_plots(uri, "calibration_histogram_buckets")}


def read_class_confusion(uri: str) -> dict[str, dict[tuple[int, int], float]]:
    """slice -> (actual class id, predicted class id) -> examples: the candidate's multiclass confusion matrix
    (MultiClassConfusionMatrixPlot at its default threshold 0: the predicted class is the top one)."""
    return {name: {(e.actual_class_id, e.predicted_class_id): e.num_weighted_examples for e in plot.matrices[0].entries}
            for name, plot in candidate_plots(uri, "multi_class_confusion_matrix_at_thresholds") if plot.matrices}


def per_class_rates(matrix: dict[tuple[int, int], float]) -> dict[int, dict[str, float]]:
    """class id -> precision (of the rows predicted as it) and recall (of the rows that are it); NaN when
    nothing was predicted as it, or when no row is it."""
    classes = sorted({c for pair in matrix for c in pair if c >= 0})
    rates = {}
    for c in classes:
        hits = matrix.get((c, c), 0.0)
        predicted = sum(v for (_, p), v in matrix.items() if p == c)
        actual = sum(v for (a, _), v in matrix.items() if a == c)
        rates[c] = {"precision": hits / predicted if predicted else math.nan,
                    "recall": hits / actual if actual else math.nan, "examples": actual}
    return rates


def read_evaluation(uri: str) -> tuple[dict[str, dict[str, float]], list[str]]:
    """The candidate's metrics per slice (slice -> metric -> value, NaN where undefined), and one line per
    failed threshold."""
    metrics = {name: {metric: models[CANDIDATE] for metric, models in values.items() if CANDIDATE in models}
               for name, values in read_metric_table(uri).items()}
    reasons = [failure_text(f, metrics) for f in read_failures(uri)]
    return metrics, reasons


def failure_text(failure: "Failure", metrics: dict[str, dict[str, float]]) -> str:
    """"auc = 0.61 on overall: needs >= 0.7"; an undefined metric fails as "n/a (undefined ...)", never as the
    0 TFMA judged."""
    name = failure.metric.removesuffix(" (change)")
    if math.isnan(metrics.get(failure.slice, {}).get(name, 0.0)):
        return f"{failure.metric} = n/a on {failure.slice} (undefined there): {failure.requirement}"
    return f"{failure.metric} = {failure.value:.4g} on {failure.slice}: {failure.requirement}"


def value_text(value: Optional[float], width: int = 0) -> str:
    """A metric's value for a text table: 4 significant digits, "n/a" when undefined, "-" when absent."""
    text = "-" if value is None else ("n/a" if math.isnan(value) else f"{value:.4g}")
    return f"{text:>{width}}"


@dataclass(frozen=True)
class Failure:
    """A threshold the candidate did not meet."""
    metric: str       # "BinaryAccuracy" or "BinaryAccuracy (change)"
    slice: str
    value: float
    requirement: str  # "needs >= 0.6"


def read_failures(uri: str) -> list[Failure]:
    protos = tfma_protos()
    failures = []
    for record in tfrecords(uri, "validations"):
        validation = protos.validation_result_pb2.ValidationResult.FromString(record)
        for per_slice in validation.metric_validations_per_slice:
            for failure in per_slice.failures:
                failures.append(Failure(
                    f"{failure.metric_key.name}{' (change)' if failure.metric_key.is_diff else ''}",
                    slice_name(per_slice.slice_key), failure.metric_value.double_value.value,
                    threshold_text(failure.metric_threshold)))
    return failures


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
    higher_is_better = tfma_protos().config_pb2.MetricDirection.Name(change.direction) == "HIGHER_IS_BETTER"
    return f"change against the baseline needs {'>=' if higher_is_better else '<='} {change.absolute.value:g}"


# --- files ---------------------------------------------------------------------


def tfrecords(uri: str, prefix: str) -> Iterator[bytes]:
    """The records of every `<prefix>*` file under `uri`, in TFRecord framing: a little-endian uint64
    length, its 4-byte CRC, the data, the data's 4-byte CRC (the CRCs are not checked here)."""
    for path in sorted(glob.glob(os.path.join(uri, prefix + "*"))):
        with open(path, "rb") as f:
            while header := f.read(12):
                if len(header) < 12:
                    raise ValueError(f"{path}: truncated TFRecord file")
                (length,) = struct.unpack("<Q", header[:8])
                data = f.read(length)
                if len(data) < length or len(f.read(4)) < 4:
                    raise ValueError(f"{path}: truncated TFRecord file")
                yield data


def tfma_protos() -> types.SimpleNamespace:
    """TFMA's result protos, loaded without running the `tensorflow_model_analysis` package's
    __init__ (which imports TensorFlow). When TFMA is already imported, its own modules are used."""
    names = [f"{TFMA}.proto.{module}" for module in PROTO_MODULES]
    if TFMA in sys.modules or all(name in sys.modules for name in names):
        return types.SimpleNamespace(**{m: importlib.import_module(n) for m, n in zip(PROTO_MODULES, names)})
    spec = importlib.util.find_spec(TFMA)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"{TFMA} is not installed")
    package_dir = list(spec.submodule_search_locations)[0]
    # Empty stand-ins for the two packages, only while the proto modules import each other; the
    # modules stay in sys.modules, so a later real `import tensorflow_model_analysis` reuses them.
    stand_ins = {TFMA: package_dir, f"{TFMA}.proto": os.path.join(package_dir, "proto")}
    for name, path in stand_ins.items():
        module = types.ModuleType(name)
        module.__path__ = [path]
        sys.modules[name] = module
    try:
        return types.SimpleNamespace(**{m: importlib.import_module(n) for m, n in zip(PROTO_MODULES, names)})
    finally:
        for name in stand_ins:
            sys.modules.pop(name, None)
