"""Plain array logic of batched evaluation: grouping a batch's rows by slice key, taking rows, and the sums
TFMA's per-example combiners would have added up (numpy only; metrics.py puts them in TFMA's accumulators)."""
from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any, Optional

import numpy as np


def row_groups(keys_per_row: Iterable[Iterable[Hashable]]) -> dict[Hashable, np.ndarray]:
    """Row indices of each key, in row order; a row with several keys is in each of their groups once."""
    groups: dict[Hashable, list[int]] = {}
    for row, keys in enumerate(keys_per_row):
        for key in set(keys):
            groups.setdefault(key, []).append(row)
    return {key: np.asarray(rows) for key, rows in groups.items()}


def take_rows(value: Any, rows: np.ndarray) -> Any:
    """The rows of a batched value: arrays along their first axis, lists by index, dicts leaf by leaf."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {key: take_rows(leaf, rows) for key, leaf in value.items()}
    if isinstance(value, np.ndarray):
        return value[rows]
    if isinstance(value, list):
        return [value[row] for row in rows]
    raise TypeError(f"cannot take rows of a {type(value).__name__}")


def one_value_per_row(labels: Any, predictions: Any) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """(labels, predictions) as float64 vectors when both hold one finite number per row, as a binary
    classifier's do; None for anything else (the caller then goes row by row, and TFMA says what it makes of
    a NaN or an infinity)."""
    if not (isinstance(labels, np.ndarray) and isinstance(predictions, np.ndarray)):
        return None
    if labels.dtype.kind not in "biuf" or predictions.dtype.kind not in "biuf" or not labels.shape:
        return None
    rows = labels.shape[0]
    if labels.size != rows or predictions.size != rows or predictions.shape[0] != rows:
        return None
    labels, predictions = labels.reshape(rows).astype(np.float64), predictions.reshape(rows).astype(np.float64)
    if not (np.isfinite(predictions).all() and np.isfinite(labels).all()):
        return None
    return labels, predictions


def fractional_weights(labels: np.ndarray) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """TFMA's fractional labels: each row counts (1 - label) as a negative and label as a positive.
    None when a label is outside [0, 1] (TFMA raises on it; the caller leaves that to TFMA)."""
    if ((labels < 0) | (labels > 1)).any():
        return None
    return 1.0 - labels, labels


def histogram_sums(labels: np.ndarray, predictions: np.ndarray, num_buckets: int, left: float, right: float,
                   fractional: bool) -> Optional[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """TFMA's calibration histogram of one batch (buckets by prediction, each row weighing 1): (bucket ids,
    weighted labels, weighted predictions, weighted examples) of the buckets the batch reaches.
    Bucket 0 holds predictions below `left`, bucket num_buckets + 1 those at or above `right`."""
    if fractional:
        weights = fractional_weights(labels)
        if weights is None:
            return None
        negative, positive = weights
        weighted_labels = positive
        weighted_predictions = predictions * negative + predictions * positive
        weighted_examples = negative + positive
    else:
        weighted_labels, weighted_predictions, weighted_examples = labels, predictions, np.ones_like(labels)
    position = (predictions - left) / (right - left) * num_buckets + 1
    buckets = np.clip(np.trunc(position), 0, num_buckets + 1).astype(np.int64)
    ids, inverse = np.unique(buckets, return_inverse=True)
    return (ids, np.bincount(inverse, weighted_labels), np.bincount(inverse, weighted_predictions),
            np.bincount(inverse, weighted_examples))


def confusion_counts(labels: np.ndarray, predictions: np.ndarray, thresholds: Iterable[float],
                     fractional: bool) -> Optional[list[tuple[float, float, float, float]]]:
    """(tp, tn, fp, fn) at each threshold, each row weighing 1: predicted positive above the threshold;
    actual positive by fractional label weights, or else a label above the threshold, as TFMA counts."""
    weights = fractional_weights(labels) if fractional else None
    if fractional and weights is None:
        return None
    counts = []
    for threshold in thresholds:
        above = predictions > threshold
        if weights is None:
            positive = (labels > threshold).astype(np.float64)
            negative = 1.0 - positive
        else:
            negative, positive = weights
        counts.append((float(positive[above].sum()), float(negative[~above].sum()),
                       float(negative[above].sum()), float(positive[~above].sum())))
    return counts


def batch_size(batch: Mapping) -> Optional[int]:
    """The number of rows of a batch of standard metric inputs (its first array's or list's length)."""
    for value in batch.values():
        if isinstance(value, Mapping):
            value = next(iter(value.values()), None)
        if isinstance(value, np.ndarray) and value.shape:
            return int(value.shape[0])
        if isinstance(value, list):
            return len(value)
    return None
