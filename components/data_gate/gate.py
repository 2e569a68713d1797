"""The data gate: ExampleValidator's anomalies and StatisticsGen's example counts, read from the
files they write, locally or in an object store. The gate fails closed: files it cannot find stop the run
like anomalies do."""
from __future__ import annotations

import os
from typing import Sequence

from pipelines.shared import artifact_files, distances
from pipelines.shared.anomalies import Anomaly, empty_splits, read_anomalies
from pipelines.shared.artifact_files import ANOMALIES_FILE, STATISTICS_FILE
from pipelines.shared.errors import MlopsError


def gate_message(anomalies: list[Anomaly]) -> str:
    lines = [f"the data has {len(anomalies)} anomal{'y' if len(anomalies) == 1 else 'ies'}; "
             "nothing is trained (set on_anomalies: warn to go on regardless):"]
    lines += [f"  {a}" for a in anomalies]
    return "\n".join(lines)


def check(anomalies_uri: str, statistics_uri: str, also: Sequence[Anomaly] = ()) -> None:
    """Raises AnomaliesFound when the data has anomalies or an empty split (or `also` holds some, such as
    too many missing labels), or when what should say so is missing (no anomalies or statistics files): the
    gate never opens on what it cannot read."""
    for uri, name in ((anomalies_uri, ANOMALIES_FILE), (statistics_uri, STATISTICS_FILE)):
        if not artifact_files.glob(os.path.join(uri, "Split-*", name)):
            raise AnomaliesFound(f"the data gate found no {name} under {uri}: it cannot tell that the data is "
                                 "good, so nothing is trained")
    found = read_anomalies(anomalies_uri) + empty_splits(statistics_uri) + list(also)
    if found:
        raise AnomaliesFound(gate_message(found))


def missing_label_anomalies(label_counts: dict, max_fraction: float, label: str) -> list[Anomaly]:
    """An anomaly when rows without a label are more than max_fraction of all rows, judged over every split
    together as `mlops init` measures it on the table (each split's share, hashed at random, strays from it
    by chance), with each split's share in the message. label_counts: ExampleGen's {split: {"examples":
    written, "unlabelled": left out}}."""
    rows = sum(c["examples"] + c["unlabelled"] for c in label_counts.values())
    unlabelled = sum(c["unlabelled"] for c in label_counts.values())
    if not rows or unlabelled / rows <= max_fraction:
        return []
    per_split = ", ".join(f"{split} {c['unlabelled']} of {c['examples'] + c['unlabelled']} "
                          f"({c['unlabelled'] / max(1, c['examples'] + c['unlabelled']):.1%})"
                          for split, c in label_counts.items())
    return [Anomaly("all", label, f"label missing on {unlabelled} of {rows} rows ({unlabelled / rows:.1%}), more "
                                  f"than label.max_missing_fraction ({max_fraction:g}); by split: {per_split}")]


def small_group_anomalies(k_anonymity: dict, min_k: int) -> list[Anomaly]:
    """An anomaly when some rows share their quasi-identifiers' values with fewer than min_k - 1 others.
    k_anonymity: the privacy record ExampleGen wrote (sizes only, never the values)."""
    k = k_anonymity.get("k", 0)
    if not k_anonymity.get("rows") or k >= min_k:
        return []
    rows, share = k_anonymity.get("rows_in_small_groups", 0), k_anonymity.get("share_in_small_groups", 0.0)
    columns = ", ".join(k_anonymity.get("quasi_identifiers", []))
    return [Anomaly("all", columns, f"k-anonymity {k} is under privacy.min_k ({min_k}): {rows} rows ({share:.1%}) "
                                    f"are in groups of fewer than {k_anonymity.get('small_group', min_k)} rows sharing "
                                    "these values; coarsen them (age bands, postcode prefixes) or lower min_k")]


def check_drift(drift_uri: str) -> None:
    """Raises DriftFound when DriftCheck measured a distance above its threshold; its record must exist."""
    if not artifact_files.exists(os.path.join(drift_uri, distances.COMPARISONS_FILE)):
        raise DriftFound(f"the data gate found no drift record under {drift_uri}: it cannot tell that the data "
                         "has not drifted, so nothing is trained")
    drifted = distances.exceeded(distances.read_comparisons(drift_uri))
    if drifted:
        lines = [f"the new data drifted from the data the served model was trained on ({len(drifted)} of the "
                 "compared features); nothing is trained (set drift.on_drift: warn to go on regardless):"]
        raise DriftFound("\n".join(lines + [f"  {line}" for line in distances.format_comparisons(drifted)]))


class AnomaliesFound(MlopsError, RuntimeError):
    """Raised by the DataGate component; the message lists each anomaly."""


class DriftFound(MlopsError, RuntimeError):
    """Raised by the DataGate component; the message lists each drifted feature, its distance and threshold."""
