"""Per-feature views of TFDV statistics for the run report: a histogram of quantile buckets (numeric) or top values
(categorical) per split, and the fraction missing. Read from the StatisticsGen artifact's protos
(tensorflow_metadata only, no TensorFlow)."""
from __future__ import annotations

from dataclasses import dataclass, field

from tensorflow_metadata.proto.v0 import statistics_pb2

from pipelines.shared.artifact_files import STATISTICS_FILE, per_split

TOP_VALUES = 8


@dataclass
class FeatureView:
    name: str
    kind: str                                                   # "numeric" or "categorical"
    examples: dict[str, int] = field(default_factory=dict)      # split -> examples in the split
    missing: dict[str, float] = field(default_factory=dict)     # split -> fraction of examples without a value
    histogram: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)  # split -> (low, high, count)
    top_values: dict[str, list[tuple[str, float]]] = field(default_factory=dict)        # split -> (value, count)
    distinct: dict[str, int] = field(default_factory=dict)     # split -> distinct values (text columns)
    anomalies: list[str] = field(default_factory=list)


def feature_views(statistics_uri: str) -> list[FeatureView]:
    """One view per feature, splits side by side, in the statistics' feature order."""
    views: dict[str, FeatureView] = {}
    for split, proto in per_split(statistics_uri, STATISTICS_FILE, statistics_pb2.DatasetFeatureStatisticsList):
        for dataset in proto.datasets:
            for feature in dataset.features:
                name = ".".join(feature.path.step) or feature.name
                kind = "numeric" if feature.HasField("num_stats") else "categorical"
                view = views.setdefault(name, FeatureView(name, kind))
                view.examples[split] = dataset.num_examples
                common = feature.num_stats.common_stats if kind == "numeric" else feature.string_stats.common_stats
                view.missing[split] = common.num_missing / dataset.num_examples if dataset.num_examples else 0.0
                if kind == "numeric":
                    view.histogram[split] = quantile_histogram(feature.num_stats) or standard_histogram(feature.num_stats)
                else:
                    view.top_values[split] = [(v.value, v.frequency)
                                              for v in feature.string_stats.top_values[:TOP_VALUES]]
                    view.distinct[split] = feature.string_stats.unique
    return list(views.values())


def quantile_histogram(num_stats) -> list[tuple[float, float, float]]:
    """TFDV's quantile buckets: each about a tenth of the rows, narrow where values are dense, so a skewed
    feature's shape stays visible where equal-width buckets would put nearly every row into the first."""
    for histogram in num_stats.histograms:
        if histogram.type == statistics_pb2.Histogram.QUANTILES:
            return [(b.low_value, b.high_value, b.sample_count) for b in histogram.buckets]
    return []


def standard_histogram(num_stats) -> list[tuple[float, float, float]]:
    """The equal-width histogram TFDV computes (it also writes a quantiles one)."""
    for histogram in num_stats.histograms:
        if histogram.type == statistics_pb2.Histogram.STANDARD:
            return [(b.low_value, b.high_value, b.sample_count) for b in histogram.buckets]
    return []
