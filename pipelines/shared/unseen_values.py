"""Values of new data that the model never saw in training, per categorical feature: a string not in the
feature's vocabulary (which the served SavedModel carries as an asset named after the feature), an integer
outside the configured range. The model still scores such rows (out-of-vocabulary ids), so `mlops predict`
says how many there were rather than staying silent. Missing cells are not counted: they have their own id."""
from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.shared.example_columns import first_values
from pipelines.shared.feature_names import vocabulary_name


def read_vocabularies(version_dir: str, features) -> dict[str, set[str]]:
    """feature -> the values in its vocabulary, for each string feature whose vocabulary the version carries."""
    found = {}
    for feature in features:
        path = os.path.join(version_dir, "assets", vocabulary_name(feature))
        if feature.kind == "string_categorical" and os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                found[feature.name] = {line.rstrip("\n") for line in f}
    return found


def unseen_counts(features, table: pa.Table, vocabularies: dict[str, set[str]]) -> dict[str, int]:
    """feature -> rows of `table` whose value was never seen in training (features with none are left out)."""
    counts = {}
    for feature in features:
        if feature.name not in table.column_names:
            continue
        column = first_values(table.column(feature.name))
        if feature.kind == "string_categorical" and feature.name in vocabularies:
            values = pc.cast(column, pa.string())
            known = pc.is_in(values, value_set=pa.array(sorted(vocabularies[feature.name]), pa.string()))
            unseen = pc.and_(pc.is_valid(values), pc.invert(known))
        elif feature.kind == "int_categorical" and pa.types.is_integer(column.type):
            unseen = pc.or_(pc.less(column, feature.min), pc.greater(column, feature.max))
        else:
            continue
        count = pc.sum(pc.cast(pc.fill_null(unseen, False), pa.int64())).as_py() or 0
        if count:
            counts[feature.name] = count
    return counts


def non_finite_counts(features, table: pa.Table) -> dict[str, int]:
    """feature -> rows of `table` whose numeric value is NaN or infinite (features with none are left out):
    no model output for them means anything, and imputation fills only empty cells."""
    counts = {}
    for feature in features:
        if feature.name not in table.column_names:
            continue
        column = first_values(table.column(feature.name))
        if not pa.types.is_floating(column.type):
            continue
        bad = pc.sum(pc.cast(pc.fill_null(pc.invert(pc.is_finite(column)), False), pa.int64())).as_py() or 0
        if bad:
            counts[feature.name] = bad
    return counts


def non_finite_line(counts: dict[str, int], rows: int) -> str:
    return "non-finite values (NaN, inf): " + (", ".join(f"{name} on {n} of {rows} rows" for name, n in counts.items())
                                               if counts else "none")


def unseen_line(counts: dict[str, int], rows: int) -> str:
    """The one account of such values that `mlops predict`, `explain` and `monitor` all give, with row counts."""
    if not counts:
        return "values never seen in training: none"
    return "values never seen in training (scored as unknown): " + ", ".join(
        f"{name} on {n} of {rows} rows" for name, n in counts.items())
