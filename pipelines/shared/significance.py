"""Whether a small serving sample comes from the training distribution, by a significance test per feature:
distances between small samples are noisy (two samples of 300 taxi rows differ by up to 0.15 with no
change at all), so below `skew.min_examples` a feature is judged by how unlikely its sample is instead.

- Categorical: a chi-square test of homogeneity between the training value counts and the serving ones
  (both from TFDV's statistics; values seen too rarely to test are pooled).
- Numeric: a two-sample Kolmogorov-Smirnov test at the training deciles. The training side is known only
  through its quantiles, so the serving sample's CDF is compared with the decile's probability at each
  boundary, taking ties and the quantile sketch's error in the training data's favour: the statistic is
  never larger than the full KS statistic, and the test errs towards not alarming.

Each feature is judged at significance / (number of features) (Bonferroni), so that checking many features
does not multiply the false alarms. Plain functions: numbers in, p-values out.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

MIN_EXPECTED = 5  # a category expected fewer times than this in the sample is pooled with the other rare ones


def categorical_p_value(training: dict[str, float], serving: dict[str, float]) -> float:
    """p-value of a chi-square test that the two value counts come from one distribution; 1.0 when there is
    nothing to test. A value absent from training counts as rare (the schema check reports new values)."""
    from scipy import stats

    n_train, n_serving = sum(training.values()), sum(serving.values())
    if n_train <= 0 or n_serving <= 0:
        return 1.0
    values = sorted(set(training) | set(serving))
    expected = {v: (training.get(v, 0) + serving.get(v, 0)) * n_serving / (n_train + n_serving) for v in values}
    kept = [v for v in values if expected[v] >= MIN_EXPECTED]
    rare = [v for v in values if expected[v] < MIN_EXPECTED]
    rows = [[training.get(v, 0) for v in kept], [serving.get(v, 0) for v in kept]]
    if rare:
        rows[0].append(sum(training.get(v, 0) for v in rare))
        rows[1].append(sum(serving.get(v, 0) for v in rare))
    table = np.array(rows, dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0
    return float(stats.chi2_contingency(table, correction=False).pvalue)


def numeric_p_value(boundaries: Sequence[float], cumulative: Sequence[float], n_train: float,
                    serving: np.ndarray, sketch_error: float = 0.01) -> float:
    """p-value of a KS test of the serving values against a training distribution known by its quantile
    boundaries and the training share at or below each (`cumulative`), from `n_train` examples.
    At a boundary q with training share p, the serving sample is off by how far p lies outside
    [share < q, share <= q] (ties count for the training side), less the sketch's error."""
    from scipy import stats

    serving = np.sort(np.asarray(serving, dtype=float))
    serving = serving[np.isfinite(serving)]
    n = len(serving)
    if n == 0 or n_train <= 0 or not len(boundaries):
        return 1.0
    below = np.searchsorted(serving, boundaries, side="left") / n
    at_or_below = np.searchsorted(serving, boundaries, side="right") / n
    p = np.asarray(cumulative, dtype=float)
    gaps = np.maximum.reduce([np.zeros_like(p), below - (p + sketch_error), (p - sketch_error) - at_or_below])
    statistic = float(gaps.max())
    effective = max(1, round(n * n_train / (n + n_train)))
    return float(stats.kstwo.sf(statistic, effective)) if statistic > 0 else 1.0


def judged_skewed(p_values: dict[str, float], significance: float) -> set[str]:
    """The features whose p-value is under significance / (number of features tested)."""
    if not p_values:
        return set()
    level = significance / len(p_values)
    return {name for name, p in p_values.items() if not math.isnan(p) and p < level}


def value_counts(feature) -> dict[str, float]:
    """A categorical feature's value counts from its TFDV statistics (the rank histogram, else the top
    values); what the statistics leave out is pooled under one name."""
    stats = feature.string_stats
    buckets = stats.rank_histogram.buckets or stats.top_values
    counts = {(b.label if hasattr(b, "label") else b.value): b.sample_count if hasattr(b, "sample_count")
              else b.frequency for b in buckets}
    present = stats.common_stats.num_non_missing
    rest = present - sum(counts.values())
    if rest > 0.5:
        counts["\0other"] = rest
    return counts


def quantile_points(feature) -> tuple[list[float], list[float], float]:
    """(boundaries, training share at or below each, examples) of a numeric feature's quantiles histogram."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    histogram = next((h for h in feature.num_stats.histograms if h.type == statistics_pb2.Histogram.QUANTILES), None)
    if histogram is None or not histogram.buckets:
        return [], [], 0.0
    counts = np.array([b.sample_count for b in histogram.buckets], dtype=float)
    total = counts.sum()
    if total <= 0:
        return [], [], 0.0
    cumulative = np.cumsum(counts)[:-1] / total
    boundaries = [b.high_value for b in histogram.buckets[:-1]]
    return boundaries, cumulative.tolist(), float(feature.num_stats.common_stats.num_non_missing)


def p_values(reference, current, batch, comparators: dict) -> dict[str, float]:
    """feature -> p-value that `current` (the serving sample, also given as an Arrow record batch of
    tf.Example lists) comes from `reference`'s distribution (both whole-dataset TFDV statistics)."""
    import pyarrow.compute as pc

    def feature_of(statistics, name):
        return next((f for f in statistics.datasets[0].features
                     if ".".join(f.path.step) == name or f.name == name), None) if statistics.datasets else None

    found = {}
    for name in comparators:
        trained, served = feature_of(reference, name), feature_of(current, name)
        if trained is None or served is None:
            continue
        if trained.HasField("string_stats") and served.HasField("string_stats"):
            found[name] = categorical_p_value(value_counts(trained), value_counts(served))
        elif trained.HasField("num_stats") and name in batch.schema.names:
            values = pc.list_flatten(batch.column(name)).to_numpy(zero_copy_only=False)
            found[name] = numeric_p_value(*quantile_points(trained), values)
    return found
