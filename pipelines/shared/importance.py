"""Feature importance from per-row attributions, and how far two rankings of it agree.

Written by the FeatureImportance component (one JSON file in its artifact), read by the run report,
`mlops runs --compare` and `mlops monitor`. Plain Python and numpy.
"""
from __future__ import annotations

import json
import math
import os
from typing import Any, Sequence

import numpy as np

from pipelines.shared.artifact_files import open_file

IMPORTANCE_FILE = "importance.json"
# The SavedModel signature every trained model has beside serving_default: raw tf.Examples -> attributions
# (components/modules/model.py exports it; FeatureImportance, the InfraValidator, `mlops explain` and
# `mlops monitor` call it).
EXPLAIN_SIGNATURE = "explain"
TOP_K = 5  # the top of a ranking that attribution drift compares (as SageMaker Clarify's nDCG@k)


# Rows per explain call: each row is evaluated at every integration step in one batch. 32 rows at a time
# kept the process 77 MB larger for 1,000 taxi rows, 256 at a time 389 MB, in the same time.
EXPLAIN_BATCH = 32


def explain_in_batches(explain, examples: list[bytes], batch: int = EXPLAIN_BATCH) -> dict[str, Any]:
    """An explain signature's answers for serialized tf.Examples, concatenated: `attributions` [rows,
    features], `output`, `baseline_output`, `explained_class` (str) and `feature_names` (str, once)."""
    import tensorflow as tf

    answers = [{k: v.numpy() for k, v in explain(examples=tf.constant(examples[i:i + batch])).items()}
               for i in range(0, len(examples), batch)]
    found: dict[str, Any] = {key: np.concatenate([a[key] for a in answers]) for key in answers[0]
                             if key != "feature_names"}
    found["feature_names"] = [n.decode() for n in answers[0]["feature_names"][0]]
    found["explained_class"] = [c.decode() for c in found["explained_class"]]
    return found


def mean_absolute(attributions: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """Global importance: each feature's mean |attribution| over the rows, highest first."""
    values = np.abs(np.asarray(attributions, dtype=float)).mean(axis=0) if len(attributions) else np.zeros(len(names))
    return dict(sorted(zip(names, (float(v) for v in values)), key=lambda item: -item[1]))


def shares(importance: dict[str, float]) -> dict[str, float]:
    """Each feature's share of the total importance, highest first (all 0 when nothing matters)."""
    total = sum(importance.values())
    return {name: (value / total if total > 0 else 0.0) for name, value in
            sorted(importance.items(), key=lambda item: -item[1])}


def ranking(importance: dict[str, float]) -> list[str]:
    return [name for name, _ in sorted(importance.items(), key=lambda item: -item[1])]


def ndcg(reference: dict[str, float], other: dict[str, float], k: int = TOP_K) -> float:
    """Normalised discounted cumulative gain of `other`'s top k, with `reference`'s importance as each
    feature's relevance: 1.0 when `other` ranks the reference's most important features in its order,
    lower as they move down or out of the top k."""
    def gain(order: list[str]) -> float:
        return sum(reference.get(name, 0.0) / math.log2(position + 2) for position, name in enumerate(order[:k]))

    ideal = gain(ranking(reference))
    return gain(ranking(other)) / ideal if ideal > 0 else 1.0


def write(summary: dict[str, Any], folder: str) -> str:
    path = os.path.join(folder, IMPORTANCE_FILE)
    with open_file(path, "w") as f:
        f.write(json.dumps(summary, indent=1))
    return path


def read(folder: str) -> dict[str, Any]:
    with open_file(os.path.join(folder, IMPORTANCE_FILE), "r") as f:
        return json.loads(f.read())
