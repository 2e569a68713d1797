"""The reference model: the quick gradient-boosted-tree model a pipeline's model is measured against, and the
trivial model under both.

Scikit-learn's HistGradientBoosting on the raw columns (numbers as they are, text and category columns as
categories, missing cells as missing), trained on the train split and scored on the eval split with the
metrics TFMA reports, under TFMA's names. Skill puts every label kind on one scale: 0 is the trivial model
(the commonest class, the median), 1 a perfect one. The same fit serves `mlops init` (does a small group of
columns give the label away?) and every run (the ReferenceModel component). Plain numpy and scikit-learn.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from pipelines.shared.artifact_files import open_file

REFERENCE_FILE = "reference.json"
BINARY, MULTICLASS, REGRESSION = "binary", "multiclass", "regression"
# The metric each label kind's skill is measured on (TFMA's key), and whether higher is better.
PRIMARY = {BINARY: ("auc", True), MULTICLASS: ("sparse_categorical_accuracy", True),
           REGRESSION: ("mean_absolute_error", False)}
MAX_CATEGORIES = 254  # HistGradientBoosting's categories per column (255 bins, one is "missing"); rarer: one "other"
DESCRIPTION = "gradient-boosted trees"


@dataclass
class Columns:
    """Raw columns as numpy arrays: numbers as float (NaN where missing), anything else as object (None)."""
    values: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.values.values()))) if self.values else 0

    def take(self, rows: np.ndarray) -> "Columns":
        return Columns({name: v[rows] for name, v in self.values.items()})


@dataclass
class Encoding:
    """How raw columns become the reference model's matrix: each text column's categories, from training."""
    features: list[str]
    categories: dict[str, dict] = field(default_factory=dict)  # text column -> value -> code
    truncated: set[str] = field(default_factory=set)           # columns whose rarer values share one "other" code

    def matrix(self, columns: Columns) -> np.ndarray:
        import pandas as pd

        out = np.full((len(columns), len(self.features)), np.nan)
        for j, name in enumerate(self.features):
            values = columns.values[name]
            if name in self.categories:
                codes = pd.Series(values, dtype=object).map(self.categories[name])  # a hash lookup per value, in C
                if name in self.truncated:  # rarer values share the "other" code; missing stays missing
                    codes[codes.isna() & pd.notna(values)] = float(len(self.categories[name]))
                out[:, j] = codes.to_numpy(dtype=float, na_value=np.nan)
            else:
                out[:, j] = values.astype(float)
        return out

    @property
    def categorical_mask(self) -> list[bool]:
        return [name in self.categories for name in self.features]


def encoding(columns: Columns, features: Sequence[str], categorical: Sequence[str] = ()) -> Encoding:
    """Text columns, and those named `categorical`, become categories (the commonest MAX_CATEGORIES - 1 by code,
    the rest one "other" code); numbers stay numbers."""
    import pandas as pd

    result = Encoding(list(features))
    for name in features:
        values = columns.values[name]
        if values.dtype == object or name in categorical:
            counts = pd.Series(values, dtype=object).dropna().value_counts(sort=True)
            kept = counts.index[:MAX_CATEGORIES - 1]
            result.categories[name] = {value: code for code, value in enumerate(kept)}
            if len(counts) > len(kept):
                result.truncated.add(name)
    return result


def class_indices(values: Iterable, classes: Sequence, text: bool) -> np.ndarray:
    """Each value's index in `classes` (the label as the Trainer learns it), compared as text or as numbers (a
    class written 1 matches a value read as 1.0); a value that is no class becomes 0."""
    index = {(str(c) if text else float(c)): i for i, c in enumerate(classes)}
    return np.array([index.get(str(v) if text else float(v), 0) for v in values], dtype=int)


def fit(x: np.ndarray, y: np.ndarray, head: str, categorical_mask: list[bool], seed: int = 0,
        threads: Optional[int] = None):
    """A HistGradientBoosting model with scikit-learn's defaults (early stopping past 10,000 rows), on at most
    `threads` threads (None: every core)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    model_class = HistGradientBoostingRegressor if head == REGRESSION else HistGradientBoostingClassifier
    mask = categorical_mask if any(categorical_mask) else None
    with threadpool_limits(threads):  # beside Transform in a run: one core, so that the model's path is not slowed
        return model_class(categorical_features=mask, random_state=seed).fit(x, y)


def predictions(model, x: np.ndarray, head: str) -> np.ndarray:
    """Regression: values; binary: P(positive) per row; multiclass: P per class ([rows, classes])."""
    if head == REGRESSION:
        return model.predict(x)
    proba = model.predict_proba(x)
    if head == MULTICLASS:
        return proba
    seen = list(model.classes_)
    return proba[:, seen.index(1)] if 1 in seen else np.zeros(len(x))


def scores(y: np.ndarray, predicted: np.ndarray, head: str, classes: int = 2) -> dict[str, float]:
    """The metrics TFMA reports for the label kind, under its names. `predicted` as `predictions` gives it
    (a multiclass model's probabilities may lack classes absent from training: columns = classes seen)."""
    from sklearn import metrics

    if head == REGRESSION:
        error = predicted - y
        return {"mean_absolute_error": float(np.abs(error).mean()), "mean_squared_error": float((error ** 2).mean()),
                "root_mean_squared_error": float(np.sqrt((error ** 2).mean()))}
    if head == MULTICLASS:
        return {"sparse_categorical_accuracy": float((np.argmax(predicted, axis=1) == y).mean())}
    result = {"binary_accuracy": float(((predicted >= 0.5) == (y == 1)).mean())}
    if len(np.unique(y)) == 2:
        result["auc"] = float(metrics.roc_auc_score(y, predicted))
        result["auc_precision_recall"] = float(metrics.average_precision_score(y, predicted))
    return result


def trivial_scores(y_train: np.ndarray, y_eval: np.ndarray, head: str, classes: int = 2) -> dict[str, float]:
    """What a model that ignores every feature scores: the training median (MAE) and mean (squared errors), or
    the training share of each class for every row (a ranking metric's chance level)."""
    if head == REGRESSION:
        median, mean = float(np.median(y_train)), float(np.mean(y_train))
        result = scores(y_eval, np.full(len(y_eval), mean), head)
        result["mean_absolute_error"] = float(np.abs(y_eval - median).mean())
        return result
    shares = np.bincount(y_train.astype(int), minlength=classes) / len(y_train)
    if head == MULTICLASS:
        return scores(y_eval, np.tile(shares, (len(y_eval), 1)), head)
    result = scores(y_eval, np.full(len(y_eval), shares[1]), head)
    if "auc" in result:
        result["auc"] = 0.5  # one score for every row: no ranking at all
        result["auc_precision_recall"] = float((y_eval == 1).mean())
    return result


def skill(value: Optional[float], trivial: Optional[float], metric: str) -> Optional[float]:
    """How much of the way from the trivial model to a perfect one a metric's value goes (0 trivial, 1 perfect;
    below 0: worse than trivial). None when either is unknown or the trivial model is already perfect."""
    if value is None or trivial is None or any(map(math.isnan, (value, trivial))):
        return None
    higher = next((h for m, h in PRIMARY.values() if m == metric), not metric.endswith("error"))
    if higher:
        return (value - trivial) / (1 - trivial) if trivial < 1 else None
    return 1 - value / trivial if trivial > 0 else None


def primary_skill(model: dict[str, float], trivial: dict[str, float], head: str) -> Optional[float]:
    metric = PRIMARY[head][0]
    if metric not in model and head == BINARY:  # one class only in the eval split: no AUC
        metric = "binary_accuracy"
    return skill(model.get(metric), trivial.get(metric), metric)


# --- one fit, scored --------------------------------------------------------------------


@dataclass
class Reference:
    """A fitted reference and the trivial model, scored on the same eval rows."""
    head: str
    metrics: dict[str, float]
    trivial: dict[str, float]
    model: object = None
    encoding: Optional[Encoding] = None

    @property
    def skill(self) -> Optional[float]:
        return primary_skill(self.metrics, self.trivial, self.head)


def train_and_score(train: Columns, y_train: np.ndarray, evaluation: Columns, y_eval: np.ndarray,
                    features: Sequence[str], head: str, classes: int = 2, categorical: Sequence[str] = (),
                    seed: int = 0, threads: Optional[int] = None) -> Reference:
    coding = encoding(train, features, categorical)
    model = fit(coding.matrix(train), y_train, head, coding.categorical_mask, seed, threads)
    predicted = predictions(model, coding.matrix(evaluation), head)
    if head == MULTICLASS:  # probabilities for the classes seen in training, placed at their class ids
        full = np.zeros((len(y_eval), classes))
        full[:, np.asarray(model.classes_, dtype=int)] = predicted
        predicted = full
    return Reference(head, scores(y_eval, predicted, head, classes), trivial_scores(y_train, y_eval, head, classes),
                     model, coding)


# --- which columns carry the signal ---------------------------------------------------------


@dataclass
class Carriers:
    """The smallest group of columns found whose removal takes the reference's skill from `skill_with` to
    `skill_without`: the columns that carry the signal."""
    columns: list[str]
    skill_with: float
    skill_without: float


def carriers(score_without: Callable[[list[str]], Optional[float]], candidates: Sequence[str], skill_with: float,
             below: float, max_group: int = 3) -> Optional[Carriers]:
    """Greedy drop-column search: `score_without(dropped)` is the reference's skill refitted without the
    dropped columns. At each step the candidate whose removal (with the group so far) costs the most skill
    joins the group, until the skill falls below `below`: that group, or None when `max_group` columns are
    not enough. Columns that each repeat the others' signal (a balance and the payments made) matter only
    together, which is why the group grows even when one removal alone costs little."""
    group: list[str] = []
    remaining = list(candidates)
    while remaining and len(group) < max_group:
        trial = {name: score_without(group + [name]) for name in remaining}
        measured = {name: value for name, value in trial.items() if value is not None}
        if not measured:
            return None
        best = min(measured, key=lambda n: measured[n])
        group.append(best)
        remaining.remove(best)
        if measured[best] < below:
            return Carriers(group, skill_with, measured[best])
    return None


# --- the artifact's file ----------------------------------------------------------------------


def write(summary: dict, directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, REFERENCE_FILE), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)


def read(directory: str) -> dict:
    with open_file(os.path.join(directory, REFERENCE_FILE)) as f:
        return json.load(f)


def gap(model_metrics: dict[str, float], summary: dict) -> Optional[tuple[str, float, float, float]]:
    """(metric, the model's skill, the reference's skill, reference minus model) on the label kind's primary
    metric, from the model's overall metrics and a reference summary (`write`'s); None when not comparable."""
    head = summary["head"]
    metric = PRIMARY[head][0]
    if metric not in model_metrics or metric not in summary["reference"]:
        metric = "binary_accuracy" if head == BINARY else metric
    ours = skill(model_metrics.get(metric), summary["trivial"].get(metric), metric)
    theirs = skill(summary["reference"].get(metric), summary["trivial"].get(metric), metric)
    if ours is None or theirs is None:
        return None
    return metric, ours, theirs, theirs - ours
