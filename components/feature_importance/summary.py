"""The FeatureImportance component's plain logic: what its JSON file says, from per-row attributions.

No TensorFlow: numpy arrays and Python values in, a JSON-ready dict out (unit-tested directly).
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Optional, Sequence

import numpy as np

from pipelines.shared import importance

MIN_SLICE_ROWS = 10   # a slice value with fewer sampled rows says more about the sample than the model
MAX_SLICE_VALUES = 30  # per slicing spec: the most frequent values


def completeness(attributions: np.ndarray, outputs: np.ndarray, baseline_outputs: np.ndarray) -> dict[str, float]:
    """How far the attributions' sums are from f(x) - f(baseline): the largest and the mean gap, and the
    largest change they explain (the gaps' scale)."""
    if not len(attributions):
        return {"max_gap": 0.0, "mean_gap": 0.0, "largest_change": 0.0}
    change = outputs - baseline_outputs
    gap = np.abs(attributions.sum(axis=1) - change)
    return {"max_gap": float(gap.max()), "mean_gap": float(gap.mean()), "largest_change": float(np.abs(change).max())}


def slice_key(columns: Sequence[str], values: Sequence[Any]) -> str:
    """TFMA's way of naming a slice: "trip_start_hour=3", "a=1, b=x"."""
    return ", ".join(f"{column}={value}" for column, value in zip(columns, values))


def by_slice(attributions: np.ndarray, names: Sequence[str], specs: Sequence[Sequence[str]],
             columns: dict[str, list]) -> list[dict[str, Any]]:
    """Importance per value of each slicing spec (rows missing a slice column are in no slice of that spec),
    for the MAX_SLICE_VALUES most frequent values with at least MIN_SLICE_ROWS rows."""
    slices = []
    for spec in specs:
        keys = [tuple(columns[c][row] for c in spec) for row in range(len(attributions))]
        counts = Counter(key for key in keys if None not in key)
        for key, rows in counts.most_common(MAX_SLICE_VALUES):
            if rows < MIN_SLICE_ROWS:
                break
            chosen = np.array([k == key for k in keys])
            slices.append({"slice": slice_key(spec, key), "rows": rows,
                           "importance": importance.mean_absolute(attributions[chosen], names)})
    return sorted(slices, key=lambda s: s["slice"])


def grid(values: Sequence[Any], categorical: bool, points: int) -> list:
    """Where a partial-dependence curve is evaluated: a numeric feature's quantiles (5th to 95th percentile,
    distinct values), or a categorical feature's most frequent values."""
    present = [v for v in values if v is not None]
    if categorical:
        return [value for value, _ in Counter(present).most_common(points)]
    finite = np.array([v for v in present if np.isfinite(v)], dtype=float)
    if not len(finite):
        return []
    quantiles = np.quantile(finite, np.linspace(0.05, 0.95, points))
    whole = bool(np.all(finite == np.round(finite)))  # whole numbers stay whole (a count, a year)
    return sorted({float(np.round(q)) if whole else float(q) for q in quantiles})


def summary(names: Sequence[str], attributions: np.ndarray, outputs: np.ndarray, baseline_outputs: np.ndarray,
            explained: Sequence[str], slices: list[dict], dependence: list[dict],
            label_kind: str, rows_available: Optional[int] = None) -> dict[str, Any]:
    """The artifact's JSON: `importance` (mean |attribution| per feature, highest first), `mean_attribution`
    (signed), the explained output at the baseline, completeness, slices and partial dependence."""
    return {
        "rows": int(len(attributions)),
        "rows_available": rows_available,
        "label_kind": label_kind,
        "explained": sorted(set(explained)),
        "baseline_output": float(baseline_outputs[0]) if len(baseline_outputs) else None,
        "mean_output": float(np.mean(outputs)) if len(outputs) else None,
        "importance": importance.mean_absolute(attributions, names),
        "mean_attribution": {name: float(v) for name, v in zip(names, np.mean(attributions, axis=0))}
        if len(attributions) else {},
        "completeness": completeness(attributions, outputs, baseline_outputs),
        "slices": slices,
        "partial_dependence": dependence,
    }
