"""`mlops init DATA --label COLUMN`: a config (and a TFDV schema) for a CSV dataset, read from the data.

Plain functions over a pyarrow table, so each rule is unit-tested on small tables:
- null markers: cells such as "NA" or "?" in columns that are otherwise numbers;
- the label: numbers with many values -> regression; text, booleans or integers with few values ->
  classes, listed as they are in the data (two make a binary model);
- each other column: numeric, int_categorical (integers with few values, by range) or
  string_categorical (top_k for large vocabularies); left out, with the reason as a YAML comment:
  constant, an ID (a distinct value on every row), or a likely leak (alone it explains the label almost
  perfectly, measured against the trivial model, rank correlations included); a lower band of suspects
  is kept and flagged;
- missing numbers: imputed with the mean, or the median for skewed columns, with a missing-indicator
  input when the missing share is material;
- metrics and thresholds for the label's kind, judged against the trivial model (the commonest class,
  or the median), and a slice on a low-cardinality categorical column;
- privacy: columns that look personal, each with why: identifiers (IDs it leaves out, e-mail addresses,
  phone numbers, national-ID-like codes) are pseudonymised, person names, free text and dates of birth
  dropped, precise coordinates suggested as personal in a comment.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv

# Cells read as missing when found in the data ("" always is).
NULL_MARKERS = ("NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?", "-")
MAX_CLASSES = 20            # an integer label with at most this many values is a class label
MAX_INT_CATEGORIES = 50     # an integer feature with at most this many values (and range) is categorical
TOP_K = 100                 # string features with more values keep the most frequent ones
MAX_SLICE_VALUES = 10       # a categorical feature with at most this many values is sliced on
# Header words of columns that look like protected attributes: each is sliced on (fairness), with up to
# MAX_PROTECTED_VALUES values.
PROTECTED = {"race", "ethnicity", "ethnic", "sex", "gender", "religion", "nationality", "disability", "marital", "age"}
MAX_PROTECTED_VALUES = 20
# How much better than the trivial model the column alone explains the label (0: no better, 1: perfectly):
LEAK_SKILL = 0.98           # this well or better: likely leakage, left out
SUSPECT_SKILL = 0.90        # this well or better: kept, but flagged as a suspect to check
MIN_LEAK_EVIDENCE = 40      # rows with both values below which no column is judged a leak
MISSING_INDICATOR_ABOVE = 0.05  # a numeric column missing on more rows gets a missing-indicator input
SKEWED = 1.0                # |skewness| above this: missing cells take the median rather than the mean
MAX_MISSING_LABELS = 0.1    # the config's default for label.max_missing_fraction
CLEARLY_RARER = 0.4         # two classes, one under this share: it is the positive
RARE_CLASS = 0.2            # two classes, the rarer under this share: judged on AUC, not accuracy
RARE_CLASS_MIN_AUC = 0.55   # the AUC a model of a rare class must reach (the trivial model's is 0.5)
# The reference model (gradient-boosted trees) on a sample, with every feature kept so far: when a small group of
# columns carries most of what it learns, they give the label away (left out) or must be known before the outcome.
REFERENCE_ROWS = 10_000     # rows sampled for it (70% to fit, 30% to score)
CARRIER_MIN_SKILL = 0.5     # below this skill over the trivial model, no group of columns is looked for
REFERENCE_LEAK_SKILL = 0.95  # with the group, this skill or more: near-deterministic, the group is left out
CARRIER_CANDIDATES = 8      # columns tried in the drop-column search (the most important by permutation)


@dataclass
class Column:
    name: str
    kind: str                      # "number" | "integer" | "boolean" | "string" | "empty"
    distinct: int
    missing: int
    values: Optional[list] = None  # the distinct values, when there are few


ID_REASON = "a distinct value on every row (an ID)"


@dataclass
class Plan:
    """What init decided: the config's sections and the columns it left out, each with why."""
    label: dict
    features: list[dict]
    left_out: dict[str, str] = field(default_factory=dict)
    null_values: list[str] = field(default_factory=lambda: [""])
    evaluation: dict = field(default_factory=dict)
    id_column: Optional[str] = None  # the first column left out as an ID: what `mlops predict` carries through
    suspects: dict[str, str] = field(default_factory=dict)  # kept, but it explains the label suspiciously well
    notes: dict[str, str] = field(default_factory=dict)     # feature -> why it is set as it is (missing values)
    label_note: str = ""                                    # the label's missing share, when there is one
    privacy: dict[str, tuple[str, str]] = field(default_factory=dict)  # column -> (pseudonymize|drop|personal, why)
    reference_note: str = ""                                # what the reference model reached on a sample


# --- reading -------------------------------------------------------------------------


def detect_null_markers(files: list[str]) -> list[str]:
    """"" plus each marker found as a whole cell in a column whose other cells are numbers."""
    from pipelines.shared.csv_tables import UnreadableCsv, unreadable_message

    found: set[str] = set()
    for path in files:
        # No null markers: a column of numbers with a marker among them stays a column of strings.
        try:
            text = csv.read_csv(path, convert_options=csv.ConvertOptions(null_values=[], timestamp_parsers=[]))
        except (pa.ArrowInvalid, UnicodeDecodeError) as error:
            raise UnreadableCsv(unreadable_message(path, error)) from None
        for name in text.column_names:
            column = text.column(name)
            if not pa.types.is_string(column.type):
                continue
            markers = pc.is_in(column, value_set=pa.array(NULL_MARKERS))
            others = pc.filter(column, pc.and_(pc.invert(markers), pc.not_equal(column, "")))
            if pc.any(markers).as_py() and _all_numbers(others):
                found.update(v for v in pc.unique(pc.filter(column, markers)).to_pylist())
    return [""] + sorted(found)


def _all_numbers(values: pa.Array) -> bool:
    try:
        pc.cast(values, pa.float64())
        return True
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False


def read_table(files: list[str], null_values: list[str]) -> pa.Table:
    """The data as ExampleGen reads it (pipelines/shared/csv_tables.py); ValueError for text that is not
    UTF-8, which a config cannot be written from (check_readable_csv comes first)."""
    from pipelines.shared.csv_tables import read_csv

    tables = []
    for path in files:
        table = read_csv(path, null_values)
        binary = [f.name for f in table.schema if pa.types.is_binary(f.type)]
        if binary:
            raise ValueError(f"{path}: column {binary[0]!r} is not UTF-8 text: save the file as UTF-8 "
                             "(e.g. iconv -f latin1 -t utf-8 FILE)")
        tables.append(table)
    return pa.concat_tables(tables, promote=True)


def check_readable_csv(path: str) -> None:
    """ValueError for a compressed file (a CSV reader would take it for garbage) or a column named twice."""
    from pipelines.shared.csv_tables import compressed_message
    from pipelines.shared.data_files import read_header

    compressed = compressed_message(path)
    if compressed:
        raise ValueError(compressed)
    with open(path, "rb") as f:
        first_line = f.readline()
    try:
        first_line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: the header is not UTF-8 text (byte {error.start + 1} of line 1): save the file "
                         "as UTF-8 (e.g. iconv -f latin1 -t utf-8 FILE)") from None
    header = read_header(path)
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise ValueError(f"{path}: the column name {', '.join(map(repr, repeated))} appears more than once: "
                         "give each column a name of its own")


def profile(table: pa.Table) -> dict[str, Column]:
    columns = {}
    for name in table.column_names:
        array = table.column(name).combine_chunks()
        kind = ("empty" if pa.types.is_null(array.type) else "boolean" if pa.types.is_boolean(array.type)
                else "integer" if pa.types.is_integer(array.type) else "number" if pa.types.is_floating(array.type)
                else "string")
        present = pc.drop_null(array)
        unique = pc.unique(present)
        values = sorted(unique.to_pylist()) if len(unique) <= max(MAX_INT_CATEGORIES, MAX_CLASSES) else None
        columns[name] = Column(name, kind, len(unique), array.null_count, values)
    return columns


# --- personal data ---------------------------------------------------------------------

LOOKS_PERSONAL = 0.8   # this share of a column's values fitting a pattern makes the column look personal
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")
NATIONAL_ID = re.compile(r"^(\d{3}-\d{2}-\d{4}|[A-Z]{2}\d{6}[A-D]|\d{2}[01]\d[0-3]\d[-+]?\d{3,4}[0-9A-Z]?)$")
PERSON_NAME = re.compile(r"^[A-Z][a-z'\-]+,?(\s+(Mr\.|Mrs\.|Miss\.|Ms\.|Dr\.|[A-Z][a-z'\-.]*|\([A-Za-z\s]+\)))+$")
DATE = re.compile(r"^(\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4}|\d{1,2}\.\d{1,2}\.\d{4})")
# Given names common in English-, German-, French-, Spanish- and Italian-speaking countries: a column whose
# values are mostly among them holds first names, whatever its header says (a pattern alone cannot tell
# "Anna" from "Dream", a penguins' island).
FIRST_NAMES = frozenset("""
aaron adam adrian alan albert alejandro alex alexander alice alicia amanda amy ana andrea andreas andrew angela
anna anne anthony antonio barbara ben benjamin bernd betty bob brian carl carlos carmen carol caroline catherine
charles charlotte chris christian christine christopher claire clara claudia daniel david deborah dennis diana
dieter donald donna dorothy edward elena elizabeth emily emma eric erika eva frank franz gary george giovanni
giuseppe grace hans heather helen henry isabel jack jacob james jan jane jason jean jeffrey jennifer jessica joan
john jonathan jorge jose joseph joshua juan julia julie jurgen karen karl katharina kathleen kelly kevin kimberly
klaus laura lauren leonardo linda lisa lucas lucia luis luke marco margaret maria marie mark martin mary matthew
melissa michael michelle monika nancy nicholas nicole olivia pablo pamela patricia patrick paul peter petra pierre
rachel rebecca richard robert ronald rose ruth ryan sabine samuel sandra sarah scott sebastian sharon sophie
stefan stephanie stephen steven susan thomas timothy ursula victoria virginia walter william wolfgang
""".split())


def _words(name: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower())) - {""}


def _share(values: list, pattern: re.Pattern) -> float:
    return sum(1 for v in values if pattern.match(v)) / len(values) if values else 0.0


def personal_kind(name: str, values: pa.Array) -> Optional[tuple[str, str]]:
    """(what the config should do with the column, why) when it looks personal, else None. Judged on up to
    1,000 present values and the column's name; the reasons name patterns, never values."""
    words = _words(name)
    present = pc.drop_null(values)
    text = [str(v).strip() for v in present.slice(0, 1000).to_pylist()]
    is_text = pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
    if is_text and _share(text, EMAIL) >= LOOKS_PERSONAL:
        return "pseudonymize", "e-mail addresses"
    if words & {"phone", "mobile", "tel", "telephone", "fax"} or (
            is_text and _share(text, PHONE) >= LOOKS_PERSONAL
            and sum(c.isdigit() for v in text for c in v) >= 7 * len(text) and any(not v.isdigit() for v in text)):
        return "pseudonymize", "phone numbers"
    if words & {"ssn", "passport", "nino", "nin", "iban"} or {"national", "id"} <= words or {"tax", "id"} <= words \
            or (is_text and _share(text, NATIONAL_ID) >= LOOKS_PERSONAL):
        return "pseudonymize", "national-ID-like codes"
    if words & {"dob", "birthday", "birthdate"} or ("birth" in words and (not is_text or _share(text, DATE) > 0.5)):
        return "drop", "exact dates of birth (an age band is a safer feature)"
    names = _share(text, PERSON_NAME) if is_text else 0.0
    if (words & {"name", "surname", "firstname", "lastname", "fullname"} and names >= 0.5) or (
            names >= LOOKS_PERSONAL and len(set(text)) > len(text) / 2):
        return "drop", "person names"
    if is_text and text and sum(1 for v in text if v.split()[:1] and v.split()[0].lower() in FIRST_NAMES) \
            >= LOOKS_PERSONAL / 2 * len(text):
        return "drop", "person names (most values are common given names)"
    if is_text and free_text(text, len(pc.unique(present))):
        return "drop", "free text (it may name or describe people)"
    if words & {"lat", "latitude", "lon", "lng", "long", "longitude"} and pa.types.is_floating(values.type):
        decimals = [len(v.split(".")[1]) for v in text if "." in v]
        if decimals and sorted(decimals)[len(decimals) // 2] >= 4:  # about 10 m or finer
            return "personal", "precise coordinates (about 10 m or finer)"
    return None


def free_text(sample: list[str], distinct: int) -> bool:
    """Many-word text that is different on most rows (notes, descriptions, job titles): no category a model
    learns from, and it may name or describe people. Long sentences count even when they repeat."""
    if not sample:
        return False
    words = sum(len(v.split()) for v in sample) / len(sample)
    long_text = sum(len(v) for v in sample) / len(sample) > 40 and _share(sample, re.compile(r".*\s.*\s")) > 0.8
    varied = len(set(sample)) > len(sample) / 2 or (distinct > 10 * TOP_K and len(set(sample)) > len(sample) / 3)
    return (long_text or words >= 2) and varied


# --- deciding --------------------------------------------------------------------------


def label_name(column: str) -> str:
    """The label's name in the transformed data, from its column's: "Survived?" -> "Survived__label"."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", column.encode("ascii", "replace").decode())
    return f"{name if name[:1].isalpha() else 'y_' + name}_label"


def label_spec(column: Column, name: str) -> dict:
    """Regression for numbers with many values; classes (as written in the data) otherwise."""
    if column.kind == "empty" or column.distinct < 2:
        raise ValueError(f"label column {column.name!r} has {column.distinct} distinct value(s): nothing to predict")
    few = column.values is not None and column.distinct <= MAX_CLASSES
    values = column.values or []
    if column.kind == "number" and not (few and all(float(v).is_integer() for v in values)):
        return {"kind": "regression", "name": name, "column": column.name}
    if column.kind == "integer" and not few:
        return {"kind": "regression", "name": name, "column": column.name}
    if not few:
        raise ValueError(f"label column {column.name!r} has {column.distinct} distinct text values; at most "
                         f"{MAX_CLASSES} classes are supported")
    classes = [int(v) if column.kind == "number" else v for v in values]
    return {"kind": "classes", "name": name, "column": column.name, "classes": classes}


def with_rarer_positive(label: dict, values: pa.Array) -> dict:
    """Two classes: a clearly rarer one is the positive (listed last: the model's score is its probability), as
    fraud, churn or default is; about even classes keep the data's order (0 before 1, "no" before "yes").
    Named in `positive` either way, so that no one reads the false negative rate of the wrong class."""
    if label["kind"] != "classes" or len(label["classes"]) != 2:
        return label
    first, second = label["classes"]
    present = pc.drop_null(values)
    share = float(np.mean(label_targets(label, present) == 0)) if len(present) else 1.0  # the first class's share
    if share < CLEARLY_RARER:
        first, second = second, first
    return {**label, "classes": [first, second], "positive": second}


def feature_spec(column: Column, rows: int) -> tuple[Optional[dict], Optional[str]]:
    """(the feature, None) or (None, why it is left out)."""
    if column.distinct <= 1:
        return None, "one value only" if column.distinct else "no value at all"
    if column.kind in ("string", "integer") and column.distinct == rows - column.missing and rows > MAX_CLASSES:
        return None, ID_REASON
    if column.kind == "boolean":
        return {"name": column.name, "kind": "int_categorical", "min": 0, "max": 1}, None
    if column.kind == "integer" and column.values is not None:
        low, high = min(column.values), max(column.values)
        if high - low < MAX_INT_CATEGORIES:
            return {"name": column.name, "kind": "int_categorical", "min": int(low), "max": int(high)}, None
    if column.kind in ("integer", "number"):
        return {"name": column.name, "kind": "numeric", "scaling": "z_score"}, None
    spec = {"name": column.name, "kind": "string_categorical", "oov_buckets": 1}
    if column.distinct > TOP_K:
        spec.update(top_k=TOP_K, oov_buckets=10)
    return spec, None


def leak_skill(values: pa.Array, label: pa.Array, regression: bool, bins: int) -> float:
    """How well the column alone explains the label, as a share of what the trivial model leaves to explain
    (0: no better than the mean or the commonest class, 1: perfectly), so that a heavily imbalanced label does
    not make every column look like a leak. The most of:
    - grouped: R² of the label's mean per value group (regression), or accuracy of the commonest label per
      group scaled between the commonest class's share and 1 (classes). Numbers are cut into `bins` quantile
      bins first, so each group has rows enough not to fit by chance;
    - for numbers, ranks, which catch any monotone transform of the label (a log of it, say): the squared
      Spearman correlation (regression), or the Gini coefficient 2·|AUC - 0.5| (two classes)."""
    from scipy import stats

    present = pc.and_(pc.is_valid(values), pc.is_valid(label)).to_numpy(zero_copy_only=False)
    x = values.to_numpy(zero_copy_only=False)[present]
    y = label.to_numpy(zero_copy_only=False)[present]
    if len(y) < MIN_LEAK_EVIDENCE:  # on a handful of rows any column can order the label perfectly by chance
        return 0.0
    numeric = x.dtype.kind in "fiu"
    if numeric and len(np.unique(x)) > bins:
        edges = np.unique(np.quantile(x.astype(float), np.linspace(0, 1, bins + 1)[1:-1]))
        groups = np.searchsorted(edges, x.astype(float))
    else:
        groups = np.unique(x.astype(str), return_inverse=True)[1]
    skills = []
    if len(np.unique(groups)) <= len(y) / 20:  # else too many groups to be evidence
        if regression:
            y_float = y.astype(float)
            total = ((y_float - y_float.mean()) ** 2).sum()
            means = np.bincount(groups, weights=y_float) / np.maximum(np.bincount(groups), 1)
            skills.append(float(1 - ((y_float - means[groups]) ** 2).sum() / total) if total > 0 else 0.0)
        else:
            labels = np.unique(y.astype(str), return_inverse=True)[1]
            counts = np.zeros((groups.max() + 1, labels.max() + 1))
            np.add.at(counts, (groups, labels), 1)
            accuracy, trivial = counts.max(axis=1).sum() / len(y), counts.sum(axis=0).max() / len(y)
            skills.append(float((accuracy - trivial) / (1 - trivial)) if trivial < 1 else 0.0)
    if numeric and len(np.unique(x)) > 1:
        if regression:
            rho = stats.spearmanr(x.astype(float), y.astype(float)).statistic
            skills.append(float(rho ** 2) if np.isfinite(rho) else 0.0)
        elif len(np.unique(y.astype(str))) == 2:
            positive = y.astype(str) == np.unique(y.astype(str))[1]
            ranks = stats.rankdata(x.astype(float))
            n_pos, n_neg = positive.sum(), (~positive).sum()
            auc = (ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
            skills.append(float(2 * abs(auc - 0.5)))
    return max(skills, default=0.0)


def imputation(column: Column, values: pa.Array, rows: int) -> tuple[dict, str]:
    """(settings, why) for a numeric column with missing cells: the median when the values are skewed, else
    the mean; a missing-indicator input when more than MISSING_INDICATOR_ABOVE of the rows miss it."""
    if not column.missing:
        return {}, ""
    x = pc.drop_null(values).to_numpy(zero_copy_only=False).astype(float)
    skewness = float(np.nan_to_num(((x - x.mean()) ** 3).mean() / max(x.std(), 1e-12) ** 3)) if len(x) else 0.0
    settings: dict[str, object] = {"impute": "median" if abs(skewness) > SKEWED else "mean"}
    share = column.missing / rows
    why = f"missing on {share:.1%} of rows, filled with the training {settings['impute']}"
    why += f" (skewness {skewness:.1f})" if settings["impute"] == "median" else ""
    if share > MISSING_INDICATOR_ABOVE:
        settings["missing_indicator"] = True
        why += ", and the model is told it was missing"
    return settings, why


def evaluation_spec(label: dict, table: pa.Table, features: list[dict], columns: dict[str, Column]) -> dict:
    """Metrics for the label's kind; thresholds that a model beats by being better than the trivial one."""
    from pipelines.config import BINARY, DEFAULT_METRICS, MULTICLASS, REGRESSION

    values = table.column(label["column"]).combine_chunks()
    y = pc.drop_null(values).to_numpy(zero_copy_only=False)
    if label["kind"] == "regression":
        y = y.astype(float)
        trivial = float(np.abs(y - np.median(y)).mean())  # MAE of always answering the median
        evaluation = {"metrics": list(DEFAULT_METRICS[REGRESSION]), "thresholds": [
            {"metric": "MeanAbsoluteError", "upper_bound": round(trivial, 6),
             "change": {"direction": "lower_is_better", "absolute": round(0.01 * trivial, 6)}}]}
    else:
        head = BINARY if len(label["classes"]) == 2 else MULTICLASS
        metric = "BinaryAccuracy" if head == BINARY else "SparseCategoricalAccuracy"
        commonest = float(np.unique(y.astype(str), return_counts=True)[1].max() / len(y))
        evaluation = {"metrics": list(DEFAULT_METRICS[head]),
                      "thresholds": [{"metric": metric, "lower_bound": round(commonest, 4),
                                      "change": {"direction": "higher_is_better", "absolute": -0.01}}]}
        if head == BINARY and 1 - commonest < RARE_CLASS:
            # Always answering the commonest class is right on most rows: accuracy cannot tell a model from it,
            # and the eval split's own share strays above the table's by chance. Ranking metrics can: the
            # trivial model's AUC is 0.5 and its PR-AUC the positive share.
            evaluation["metrics"] = [*DEFAULT_METRICS[head], "AUCPrecisionRecall"]
            evaluation["thresholds"] = [{"metric": "AUC", "lower_bound": RARE_CLASS_MIN_AUC,
                                         "change": {"direction": "higher_is_better", "absolute": -0.01}}]
    categorical = [f["name"] for f in features if f["kind"] in ("string_categorical", "int_categorical")]
    # Columns that look like protected attributes first: the report's fairness view gives each slice's error rates.
    protected = [n for n in categorical if _words(n) & PROTECTED and columns[n].distinct <= MAX_PROTECTED_VALUES]
    sliceable = [n for n in categorical if columns[n].distinct <= MAX_SLICE_VALUES and n not in protected]
    slices = protected + sliceable[:1]
    if slices:
        evaluation["slices"] = [[name] for name in slices]
    return evaluation


def plan(table: pa.Table, label_column: str, null_values: list[str]) -> Plan:
    if label_column not in table.column_names:
        raise ValueError(f"--label {label_column!r} is not a column; columns: {', '.join(table.column_names)}")
    columns = profile(table)
    label = with_rarer_positive(label_spec(columns[label_column], label_name(label_column)),
                                table.column(label_column).combine_chunks())
    result = Plan(label=label, features=[], null_values=null_values,
                  left_out={label_column: "the label"})
    label_values = table.column(label_column).combine_chunks()
    missing_labels = columns[label_column].missing / table.num_rows if table.num_rows else 0.0
    if missing_labels:
        result.label_note = f"missing on {missing_labels:.1%} of rows: those rows are left out of training and evaluation"
        if missing_labels > MAX_MISSING_LABELS:  # what the data already has must not stop its first run
            label["max_missing_fraction"] = min(1.0, round(missing_labels + 0.05, 2))
            result.label_note += "; max_missing_fraction is set just above that share"
    bins = max(2, min(50, table.num_rows // 20))
    for name, column in columns.items():
        if name == label_column:
            continue
        found = personal_kind(name, table.column(name).combine_chunks())
        if found and found[0] != "personal":  # identifiers and names are no features, whatever they predict
            result.privacy[name] = found
            result.left_out[name] = f"{found[1]}: {'pseudonymised' if found[0] == 'pseudonymize' else 'dropped'} at ingestion"
            continue
        add_column(result, name, column, table, label_values, bins)
        if found:
            result.privacy[name] = found
        elif result.left_out.get(name) == ID_REASON and not is_row_counter(table.column(name).combine_chunks()):
            result.privacy[name] = ("pseudonymize", "an ID")  # an ID is personal data too: its pseudonym still joins
    if not result.features:
        reasons = [f"{k}: {v}" for k, v in result.left_out.items()]
        more = f"; and {len(reasons) - 10} more" if len(reasons) > 10 else ""
        raise ValueError("no column is left to learn from: " + "; ".join(reasons[:10]) + more)
    check_with_reference(result, table)
    result.evaluation = evaluation_spec(label, table, result.features, columns)
    if result.suspects:  # carried into every run's summary and report, beside the attribution each takes
        result.evaluation["suspects"] = dict(result.suspects)
    return result


def reference_columns(table: pa.Table, names: list[str]):
    """The named columns as the reference model reads them: numbers as float (NaN where missing), anything
    else as text (None where missing)."""
    from pipelines.shared.reference_model import Columns

    values = {}
    for name in names:
        array = table.column(name).combine_chunks()
        if pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or pa.types.is_boolean(array.type):
            values[name] = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
        else:
            values[name] = np.array([None if v is None else str(v) for v in array.to_pylist()], dtype=object)
    return Columns(values)


def label_targets(label: dict, values: pa.Array) -> np.ndarray:
    """The label as the model learns it: the number, or the class's index in label.classes."""
    if label["kind"] == "regression":
        return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    from pipelines.shared.reference_model import class_indices

    text = pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
    return class_indices(values.to_pylist(), label["classes"], text)


def check_with_reference(result: Plan, table: pa.Table) -> None:
    """Fits the reference model (gradient-boosted trees) on a sample with every feature kept so far, then looks
    for the smallest group of columns whose removal halves its skill (pipelines/shared/reference_model.py
    carriers). Near-deterministic with them: a leak no single column shows (a price of the alternative that
    was chosen, payments recorded after a loan was granted): left out. Otherwise they are flagged as suspects,
    asking whether they are known before the outcome, which the data cannot tell."""
    from pipelines.shared import reference_model as R

    label = result.label
    labelled = table.filter(pc.is_valid(table.column(label["column"])))
    if labelled.num_rows < 2 * MIN_LEAK_EVIDENCE:
        return
    rng = np.random.default_rng(0)
    rows = rng.permutation(labelled.num_rows)[:REFERENCE_ROWS]
    cut = len(rows) * 7 // 10
    names = [f["name"] for f in result.features]
    sample = labelled.take(pa.array(rows))
    columns, y = reference_columns(sample, names), label_targets(label, sample.column(label["column"]).combine_chunks())
    fit_rows, score_rows = np.arange(cut), np.arange(cut, len(rows))
    head = R.REGRESSION if label["kind"] == "regression" else R.BINARY if len(label["classes"]) == 2 else R.MULTICLASS
    classes = len(label.get("classes", [])) or 2
    categorical = [f["name"] for f in result.features if f["kind"] != "numeric"]
    train, holdout = columns.take(fit_rows), columns.take(score_rows)

    def skill_without(dropped: list[str]) -> Optional[float]:
        kept = [n for n in names if n not in dropped]
        if not kept:
            return 0.0
        return R.train_and_score(train, y[fit_rows], holdout, y[score_rows], kept, head, classes, categorical).skill

    everything = R.train_and_score(train, y[fit_rows], holdout, y[score_rows], names, head, classes, categorical)
    if everything.skill is None:
        return
    result.reference_note = (f"the reference model ({R.DESCRIPTION}, {len(rows)} rows sampled) reaches skill "
                             f"{everything.skill:.3f} over the trivial model with every feature")
    if everything.skill < CARRIER_MIN_SKILL:
        return
    found = R.carriers(skill_without, most_important(everything, holdout, y[score_rows], names), everything.skill,
                       below=everything.skill / 2)
    if found is None:
        return
    measured = f"reference skill {found.skill_with:.3f} with, {found.skill_without:.3f} without"
    for name in found.columns:
        others = [c for c in found.columns if c != name]
        with_others = f"with {', '.join(others)} " if others else ""
        if found.skill_with >= REFERENCE_LEAK_SKILL:
            result.features = [f for f in result.features if f["name"] != name]
            result.notes.pop(name, None)
            result.suspects.pop(name, None)
            result.left_out[name] = (f"{with_others}it lets the other columns explain the label almost perfectly "
                                     f"({measured}): likely leakage; put it back if it is known before the outcome")
        else:
            carries = (f"{with_others}it carries most of the signal ({measured}): is it known before the outcome? A "
                       "column recorded after it is a leak the data cannot reveal")
            result.suspects[name] = f"{result.suspects[name]}; {carries}" if name in result.suspects else carries
    if not result.features:
        raise ValueError("no column is left to learn from: " + "; ".join(f"{c}: {result.left_out[c]}" for c in found.columns))


def most_important(fitted, holdout, y: np.ndarray, names: list[str]) -> list[str]:
    """The CARRIER_CANDIDATES features the fitted reference relies on most (permutation importance on the
    held-out rows); all of them when there are few."""
    if len(names) <= CARRIER_CANDIDATES:
        return names
    from sklearn.inspection import permutation_importance

    found = permutation_importance(fitted.model, fitted.encoding.matrix(holdout), y, n_repeats=2, random_state=0)
    order = np.argsort(-found.importances_mean, kind="stable")
    return [names[i] for i in order[:CARRIER_CANDIDATES]]


def is_row_counter(values: pa.Array) -> bool:
    """Whether an ID column is a plain row counter (the integers from its smallest, each once): it numbers rows,
    it says nothing of a person, so it needs no pseudonym (nor a key before the first run)."""
    if not pa.types.is_integer(values.type) or values.null_count:
        return False
    x = np.sort(values.to_numpy(zero_copy_only=False))
    return len(x) > 0 and bool(np.array_equal(x, np.arange(x[0], x[0] + len(x))))


def add_column(result: Plan, name: str, column, table: pa.Table, label_values, bins: int) -> None:
    """One column into the plan: a feature (imputed when numeric), a suspect, or left out with why."""
    spec, why = feature_spec(column, table.num_rows)
    if spec is not None:
        skill = leak_skill(table.column(name).combine_chunks(), label_values, result.label["kind"] == "regression", bins)
        if skill >= LEAK_SKILL:
            spec, why = None, (f"alone it explains the label almost perfectly (skill {skill:.3f} over the trivial "
                               "model): likely leakage")
        elif skill >= SUSPECT_SKILL:
            result.suspects[name] = (f"alone it explains the label suspiciously well (skill {skill:.3f} over the "
                                     "trivial model): check it is known before the outcome")
    if spec is None:
        result.left_out[name] = why or "left out"
        if why == ID_REASON and result.id_column is None:
            result.id_column = name
        return
    if spec["kind"] == "numeric":
        settings, note = imputation(column, table.column(name).combine_chunks(), table.num_rows)
        spec.update(settings)
        if note:
            result.notes[name] = note
    result.features.append(spec)


# --- writing ---------------------------------------------------------------------------


def config_text(name: str, data_path: str, pattern: str, source: str, result: Plan) -> str:
    """The config as YAML, with a comment per column left out. Column names in comments are shown with their
    control characters escaped: YAML takes some of them (U+0085, U+2028) for line breaks."""
    import yaml

    from pipelines.shared.csv_tables import printable

    def block(value) -> str:
        return yaml.safe_dump(value, sort_keys=False, default_flow_style=None, width=120).rstrip()

    lines = [printable(f"# Written by `mlops init {source} --label {result.label['column']}`: check it, then"),
             f"# `mlops run configs/{name}.yaml`. Relative paths are relative to this file's folder.",
             f"name: {name}", f"output_root: ../outputs/{name}", "",
             block({"data": {"path": data_path, "pattern": pattern, "null_values": result.null_values}}), "",
             block({"label": result.label}), "", "features:"]
    if result.label_note:
        lines.insert(lines.index("features:") - 1, printable(f"# label {result.label['column']}: {result.label_note}"))
    for spec in result.features:
        suspect = result.suspects.get(spec["name"])
        comments = [c for c in (suspect and f"SUSPECT: {suspect}", result.notes.get(spec["name"])) if c]
        comment = printable(f"  # {'; '.join(comments)}") if comments else ""
        lines.append(f"  - {yaml.safe_dump(spec, default_flow_style=True, sort_keys=False, width=200).strip()}{comment}")
    lines += [printable(f"  # left out {column}: {why}") for column, why in result.left_out.items()]
    lines += ["", block({"evaluation": result.evaluation}), "",
              "infra_validation: {platform: auto}", "metadata: {backend: sqlite}", ""]
    if result.id_column:
        lines += [printable(f"# `mlops predict` writes {result.id_column} beside each prediction, to join them back"),
                  block({"batch_inference": {"id_column": result.id_column}}), ""]
    return "\n".join(lines + privacy_lines(result.privacy))


def privacy_lines(proposed: dict[str, tuple[str, str]]) -> list[str]:
    """The privacy section init proposes: identifiers pseudonymised and names dropped (active), personal
    columns kept as features suggested in a comment; each column with why."""
    from pipelines.shared.csv_tables import printable
    from pipelines.shared.pseudonyms import DEFAULT_KEY_ENV

    if not proposed:
        return []
    by_action: dict[str, list[str]] = {}
    for column, (action, _) in proposed.items():
        by_action.setdefault(action, []).append(column)
    lines = ["# Privacy, proposed from what the columns look like (check it): pseudonymised columns hold a keyed "
             "HMAC of", f"# each value (the key: ${DEFAULT_KEY_ENV}, e.g. `export {DEFAULT_KEY_ENV}=$(openssl rand "
             "-hex 32)`; keep it safe),", "# dropped ones are removed when the data is read."]
    lines += [printable(f"#   {column}: {why} -> {action}") for column, (action, why) in proposed.items()]
    active = {action: columns for action, columns in by_action.items() if action != "personal"}
    if active:
        lines.append("privacy:")
        lines += [f"  {action}: {json.dumps(columns)}" for action, columns in active.items()]
    if by_action.get("personal"):
        prefix = "  # " if active else "# privacy:\n#   "
        lines.append(f"{prefix}personal: {json.dumps(by_action['personal'])}  # uncomment: kept as features, "
                     "their values never shown (counts only)")
    return lines + [""]


@dataclass
class Written:
    config: str
    schema: str
    plan: Plan


def init_project(data: str, label_column: str, name: Optional[str], project_dir: str, force: bool = False) -> Written:
    """Writes <project>/configs/<name>.yaml and <project>/schemas/<name>/schema.pbtxt (TFDV's inference)."""
    import re

    from pipelines.config import ConfigError, load_config
    from pipelines.shared.data_files import csv_files

    if os.path.exists(project_dir) and not os.path.isdir(project_dir):
        raise ValueError(f"--project {project_dir}: a file, not a folder: name the project's folder")
    files = csv_files(data)
    name = name or re.sub(r"[^a-z0-9_-]", "_", os.path.splitext(os.path.basename(data.rstrip("/")))[0].lower())
    if not re.match(r"^[a-z][a-z0-9_-]*$", name):
        raise ValueError(f"--name {name!r}: lower-case letters, digits, '-' and '_', starting with a letter")
    config_path = os.path.join(project_dir, "configs", f"{name}.yaml")
    schema_path = os.path.join(project_dir, "schemas", name, "schema.pbtxt")
    for path in (config_path, schema_path):
        if os.path.exists(path) and not force:
            raise FileExistsError(f"{path} exists; --force overwrites it")
    for path in files:
        check_readable_csv(path)
    null_values = detect_null_markers(files)
    result = plan(read_table(files, null_values), label_column, null_values)

    os.makedirs(os.path.dirname(config_path), exist_ok=True)
    # A folder is read whole; one file is its folder with the file's name as the pattern.
    data_dir, pattern = (data, "*.csv") if os.path.isdir(data) else os.path.split(os.path.abspath(data))
    data_dir, project = os.path.abspath(data_dir), os.path.abspath(project_dir)
    inside = os.path.commonpath([data_dir, project]) == project  # then the project moves with its data
    data_path = os.path.relpath(data_dir, os.path.dirname(os.path.abspath(config_path))) if inside else data_dir
    text = config_text(name, data_path, pattern, data, result)
    with open(config_path, "w") as f:
        f.write(text)
    try:
        cfg = load_config(config_path)
    except ConfigError:
        os.remove(config_path)
        raise
    from pipelines.schema_inference import write_inferred_schema

    write_inferred_schema(cfg, schema_path)
    return Written(config_path, schema_path, result)
