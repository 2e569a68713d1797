"""The eval config's side of batched evaluation: which configs can take it, and each metric config turned
into `metrics.Batched` of the same class, config, name and thresholds."""
from __future__ import annotations

import json
from collections.abc import Iterable

import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types

from components.evaluator import extractors, metrics

# The Evaluator's module_path when its metrics are batched: TFX calls its custom_extractors.
EXTRACTORS = extractors.__name__


def batchable(metric_class_names: Iterable[str]) -> bool:
    """Whether every metric is one of TFMA's own classes, whose combiners `metrics.Batched` wraps (a Keras
    metric is computed by TFMA's Keras wrapper, on TFMA's per-example path)."""
    registered = metric_types.registered_metrics()
    return all(name in registered for name in metric_class_names)


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


def is_batched(eval_config: tfma.EvalConfig) -> bool:
    return any(m.module == metrics.__name__ for spec in eval_config.metrics_specs for m in spec.metrics)
