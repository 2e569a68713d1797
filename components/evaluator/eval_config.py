"""The eval config's side of batched evaluation: which configs can take it, and each metric config turned
into `metrics.Batched` of the same class, config, name and thresholds."""
from __future__ import annotations

import json
from collections.abc import Iterable

import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types

from components.evaluator import extractors, metrics

# The Evaluator's module_path: TFX calls its custom_extractors.
EXTRACTORS = extractors.__name__


def batchable(metric_configs: Iterable[tfma.MetricConfig]) -> bool:
    """Whether every metric is one of TFMA's own classes whose computations take TFMA's standard inputs
    (labels, predictions, weights), which batches hold. A Keras metric is computed by TFMA's Keras wrapper,
    and a metric reading features or queries needs per-example extracts: TFMA's own path for those."""
    registered = metric_types.registered_metrics()
    for metric in metric_configs:
        if metric.class_name not in registered:
            return False
        try:
            computations = registered[metric.class_name](**(json.loads(metric.config) if metric.config else {})
                                                         ).computations(eval_config=tfma.EvalConfig())
        except Exception:  # noqa: BLE001 (TFMA raises what it likes for a metric it cannot build so)
            return False
        if not all(metrics.takes_batches(c) for c in computations):
            return False
    return True


def batched(metric: tfma.MetricConfig) -> tfma.MetricConfig:
    """The same metric computed on batches; `name` is written out so that readers of eval_config.json find
    the metric's key without instantiating it."""
    config = json.loads(metric.config) if metric.config else {}
    result = tfma.MetricConfig()
    result.CopyFrom(metric)
    result.class_name, result.module = metrics.Batched.__name__, metrics.__name__
    result.config = json.dumps({"metric": metric.class_name, "config": config,
                                "name": metrics.Batched(metric.class_name, config).name})
    return result
