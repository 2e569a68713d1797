"""Statistics with no value of a hidden (personal or pseudonymised) column in them: plain functions on TFDV's
statistics protos.

TFDV's statistics name values: a string column's top values and rank histogram, a number's minimum, maximum,
median and quantile bounds. For a hidden column only what counts rows is kept: present and missing counts,
values per example, for text the number of distinct values, and for numbers the NaN counts and an infinite
bound (the schema's disallow_nan and disallow_inf are checked on them: no person's value is either). What
reads statistics (the schema, the drift and skew checks, the report) then has counts to show, nothing else.
"""
from __future__ import annotations

import math
from typing import Iterable


def scrubbed_feature(feature):
    """A FeatureNameStatistics holding only the counts of `feature` (same name, path and type)."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    kept = statistics_pb2.FeatureNameStatistics(type=feature.type)
    if feature.HasField("path"):
        kept.path.CopyFrom(feature.path)
    else:
        kept.name = feature.name
    kind = feature.WhichOneof("stats")
    if kind == "num_stats":
        kept.num_stats.common_stats.CopyFrom(feature.num_stats.common_stats)
        # What the schema's disallow_nan and disallow_inf are checked on: NaN counts, and an infinite bound.
        for histogram in feature.num_stats.histograms:
            kept.num_stats.histograms.add(type=histogram.type, num_nan=histogram.num_nan,
                                          num_undefined=histogram.num_undefined)
        if math.isinf(feature.num_stats.min):
            kept.num_stats.min = feature.num_stats.min
        if math.isinf(feature.num_stats.max):
            kept.num_stats.max = feature.num_stats.max
    elif kind == "string_stats":
        kept.string_stats.common_stats.CopyFrom(feature.string_stats.common_stats)
        kept.string_stats.unique = feature.string_stats.unique
    elif kind == "bytes_stats":
        kept.bytes_stats.common_stats.CopyFrom(feature.bytes_stats.common_stats)
        kept.bytes_stats.unique = feature.bytes_stats.unique
    elif kind == "struct_stats":
        kept.struct_stats.common_stats.CopyFrom(feature.struct_stats.common_stats)
    return kept


def feature_name(feature) -> str:
    return feature.path.step[-1] if feature.HasField("path") and feature.path.step else feature.name


def scrub(statistics, hidden: Iterable[str]) -> int:
    """Scrubs, in place, every hidden column of a DatasetFeatureStatisticsList; returns how many were."""
    hidden = set(hidden)
    scrubbed = 0
    for dataset in statistics.datasets:
        for i, feature in enumerate(dataset.features):
            if feature_name(feature) in hidden:
                dataset.features[i].CopyFrom(scrubbed_feature(feature))
                scrubbed += 1
        # Cross-feature statistics name values of both columns.
        kept = [c for c in dataset.cross_features
                if not ({step for step in c.path_x.step} | {step for step in c.path_y.step}) & hidden]
        del dataset.cross_features[:]
        dataset.cross_features.extend(kept)
    return scrubbed
