"""`Batched`: a TFMA metric class taking batches (one extract per batch and slice key), for TFMA's own metric
classes. Each is built by TFMA (same keys, derived metrics, thresholds); only the combiners that add up
examples are wrapped: vectorized for the example count, binary confusion matrices and the calibration
histogram, row by row for any other."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

import apache_beam as beam
from tensorflow_model_analysis.contrib.aggregates import binary_confusion_matrices as matrices_lib
from tensorflow_model_analysis.metrics import (
    binary_confusion_matrices,
    calibration_histogram,
    example_count,
    metric_types,
    metric_util,
)
from tensorflow_model_analysis.utils import util

from components.evaluator import batches


def _batched_computations(metric: str, config: Optional[dict] = None, name: Optional[str] = None,
                          eval_config=None, schema=None, model_names=None, output_names=None, sub_keys=None,
                          aggregation_type=None, class_weights=None, example_weighted=False, query_key=None):
    inner = metric_types.registered_metrics()[metric](**(config or {}))
    computations = inner.computations(eval_config=eval_config, schema=schema, model_names=model_names,
                                      output_names=output_names, sub_keys=sub_keys,
                                      aggregation_type=aggregation_type, class_weights=class_weights,
                                      example_weighted=example_weighted, query_key=query_key)
    wrapped = []
    for computation in computations:
        if not takes_batches(computation):  # eval_config.batchable keeps such metrics on TFMA's own path
            raise ValueError(f"{metric}: its computation {computation.keys} needs per-example extracts")
        if isinstance(computation, metric_types.MetricComputation):
            computation = computation._replace(combiner=BatchedCombiner(computation.combiner))
        wrapped.append(computation)
    return wrapped


def takes_batches(computation) -> bool:
    """Derived computations read other computations' results; a combining one must read TFMA's standard
    inputs only (labels, predictions, example weights)."""
    if not isinstance(computation, metric_types.MetricComputation):
        return True
    return all(type(p) is metric_types.StandardMetricInputsPreprocessor for p in computation.preprocessors or ())


class Batched(metric_types.Metric):
    """TFMA's metric class `metric` (with its `config`), computed from batches of rows of one slice."""

    def __init__(self, metric: str, config: Optional[dict] = None, name: Optional[str] = None):
        inner = metric_types.registered_metrics()[metric](**(config or {}))
        self._inner = inner
        super().__init__(_batched_computations, metric=metric, config=config or {}, name=name or inner.name)

    @property
    def compute_confidence_interval(self):
        return self._inner.compute_confidence_interval


class BatchedCombiner(beam.CombineFn):
    """A TFMA combiner fed batches: its accumulator, merge and output unchanged."""

    def __init__(self, combiner: beam.CombineFn):
        self._combiner = combiner

    def setup(self, *args, **kwargs):
        self._combiner.setup(*args, **kwargs)

    def teardown(self, *args, **kwargs):
        self._combiner.teardown(*args, **kwargs)

    def create_accumulator(self):
        return self._combiner.create_accumulator()

    def add_input(self, accumulator, element: metric_types.StandardMetricInputs):
        add_batch = VECTORIZED.get(type(self._combiner))
        added = add_batch(self._combiner, accumulator, element) if add_batch else None
        if added is not None:
            return added
        for row in util.split_extracts(dict(element)):
            accumulator = self._combiner.add_input(accumulator, metric_types.StandardMetricInputs(row))
        return accumulator

    def merge_accumulators(self, accumulators):
        return self._combiner.merge_accumulators(accumulators)

    def compact(self, accumulator):
        return self._combiner.compact(accumulator)

    def extract_output(self, accumulator):
        return self._combiner.extract_output(accumulator)

    def __str__(self) -> str:
        return f"Batched({self._combiner})"


def _by_key(value: Any, name: str, required: bool) -> Any:
    """TFMA's model-name and output-name lookups: predictions must hold the name, labels may."""
    if not name:
        return value
    if isinstance(value, Mapping) and name in value:
        return value[name]
    return _MISSING if required else value


_MISSING = object()


def label_and_prediction(combiner, batch: metric_types.StandardMetricInputs):
    """A batch's labels and predictions for the combiner's model and output, as float64 vectors, when the
    combiner asks nothing else of them (no weights, class, top-k or class weights) and they hold one
    number per row; None otherwise."""
    key = combiner._key
    if key.sub_key or getattr(key, "aggregation_type", None) or combiner._aggregation_type or combiner._class_weights \
            or combiner._example_weighted:
        return None
    labels, predictions = batch.label, batch.prediction
    for name in (key.model_name, key.output_name):
        labels, predictions = _by_key(labels, name, False), _by_key(predictions, name, True)
    if predictions is _MISSING:
        return None
    return batches.one_value_per_row(labels, predictions)


def _add_example_count(combiner: example_count._ExampleCountCombiner, accumulator, batch):
    rows = None if combiner._example_weighted else batches.batch_size(batch)
    return None if rows is None else accumulator + float(rows)


def _add_histogram(combiner: calibration_histogram._CalibrationHistogramCombiner, accumulator, batch):
    if not combiner._prediction_based_bucketing:
        return None
    arrays = label_and_prediction(combiner, batch)
    if arrays is None:
        return None
    labels, predictions = arrays
    sums = batches.histogram_sums(labels, predictions, num_buckets=combiner._num_buckets, left=combiner._left,
                                  right=combiner._left + combiner._range, fractional=combiner._fractional_labels)
    if sums is None:
        return None
    for bucket_id, weighted_labels, weighted_predictions, weighted_examples in zip(*sums):
        bucket = calibration_histogram.Bucket(int(bucket_id), float(weighted_labels), float(weighted_predictions),
                                              float(weighted_examples))
        if bucket.bucket_id in accumulator:
            accumulator[bucket.bucket_id].merge(bucket)
        else:
            accumulator[bucket.bucket_id] = bucket
    return accumulator


def _add_matrices(combiner: binary_confusion_matrices._BinaryConfusionMatrixCombiner, accumulator, batch):
    if combiner._example_id_key or combiner._extract_label_prediction_and_weight \
            is not metric_util.to_label_prediction_example_weight:
        return None
    arrays = label_and_prediction(combiner, batch)
    if arrays is None:
        return None
    computation = combiner._binary_confusion_matrices
    labels, predictions = arrays
    counts = batches.confusion_counts(labels, predictions, thresholds=computation._thresholds,
                                      fractional=computation._enable_fractional_labels)
    if counts is None:
        return None
    for threshold, (tp, tn, fp, fn) in zip(computation._thresholds, counts):
        entry = matrices_lib._ThresholdEntry(matrices_lib.Matrix(tp=tp, tn=tn, fp=fp, fn=fn), [], [], [], [])
        accumulator[threshold] = computation._merge_entry(accumulator, threshold, entry)
    return accumulator


# The combiners added up in numpy: each returns the accumulator with the batch added, or None when the
# batch needs TFMA's own per-row handling.
VECTORIZED = {
    example_count._ExampleCountCombiner: _add_example_count,
    calibration_histogram._CalibrationHistogramCombiner: _add_histogram,
    binary_confusion_matrices._BinaryConfusionMatrixCombiner: _add_matrices,
}
