"""Datasets the project has never seen, from `mlops init` straight to `mlops run` with no edit: a
regression target (scikit-learn's diabetes progression, 10 numeric features), integer class labels
(its wine cultivars 0/1/2, 13 features), data that ships with scikit-learn written out as CSV; and a
synthetic table whose label depends on one feature only. Each run's report and feature importance fit
its label kind."""
import re

import numpy as np
import pandas as pd
import pytest

from helpers import importance_of, init_and_run, predict_in_fresh_process, report_path, summary_of, versions

COMPLETENESS = 0.02  # attributions add up to output - baseline within 2% of the largest change (attributions.py)


def assert_complete(found: dict) -> None:
    gaps = found["completeness"]
    assert gaps["max_gap"] <= COMPLETENESS * max(gaps["largest_change"], 0.05), gaps


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory):
    from sklearn.datasets import load_diabetes

    return init_and_run(tmp_path_factory.mktemp("diabetes"), load_diabetes(as_frame=True, scaled=False).frame,
                        "diabetes")


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    from sklearn.datasets import load_wine

    return init_and_run(tmp_path_factory.mktemp("wine"), load_wine(as_frame=True).frame, "wine")


def predictions_of(config, csv_path):
    serving = config.parent.parent / "outputs" / config.stem / "serving_model"
    return predict_in_fresh_process(serving / versions(serving)[0], csv_path, [""], drop=["target"])


def test_a_regression_target_is_trained_evaluated_and_pushed(diabetes):
    config, csv_path, init, run = diabetes
    assert "label: target (regression)" in init.stdout
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    summary = summary_of(config)
    assert summary.outcome == "pushed" and summary.blessed is True, run.stdout
    assert set(summary.metrics["overall"]) >= {"mean_squared_error", "mean_absolute_error"}
    served = predictions_of(config, csv_path)
    predictions = served["outputs"]
    assert len(predictions) == 20 and all(len(p) == 1 for p in predictions) and set(served) == {"outputs"}
    assert 50 < sum(p[0] for p in predictions) / 20 < 300  # progression values, not probabilities


def test_integer_class_labels_are_trained_evaluated_and_pushed(wine):
    config, csv_path, init, run = wine
    assert "label: target (classes: 0, 1, 2)" in init.stdout
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    summary = summary_of(config)
    assert summary.outcome == "pushed" and summary.metrics["overall"]["sparse_categorical_accuracy"] >= 0.8
    served = predictions_of(config, csv_path)
    predictions = served["outputs"]
    assert len(predictions) == 20 and all(len(p) == 3 and abs(sum(p) - 1) < 1e-4 for p in predictions)
    assert served["classes"] == [["0", "1", "2"]] * 20 and served["scores"] == predictions  # names as in the data
    assert sum(max(range(3), key=p.__getitem__) == 0 for p in predictions) >= 16  # the first rows are cultivar 0


def test_regression_report_shows_predicted_against_actual_and_complete_attributions(diabetes):
    config, _, _, run = diabetes
    found = importance_of(config)
    assert found["label_kind"] == "regression" and set(found["importance"]) == {
        "age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"}
    assert_complete(found)
    actual, predicted = found["predictions"]["actual"], found["predictions"]["predicted"]
    assert len(actual) == len(predicted) == found["rows"] > 50
    assert 25 <= min(actual) and max(actual) <= 346  # diabetes progression values: the label, not a scaled one
    page = report_path(run.stdout).read_text()
    assert 'id="predicted-against-actual"' in page and "data-mean-residual" in page
    assert "Confusion matrix" not in page and "data-class-confusion" not in page


def test_multiclass_report_shows_a_confusion_matrix_and_per_class_rates(wine):
    config, _, _, run = wine
    found = importance_of(config)
    assert found["label_kind"] == "multiclass" and found["classes"] == ["0", "1", "2"]
    assert_complete(found)
    page = report_path(run.stdout).read_text()
    cells = {tuple(map(int, k.split(":"))): float(v) for k, v in
             re.findall(r'data-class-confusion="(\d+:\d+)">([\d.]+)<', page)}
    assert {a for a, _ in cells} == {0, 1, 2} and {p for _, p in cells} <= {0, 1, 2}
    evaluated = summary_of(config).metrics["overall"]["example_count"]
    assert sum(cells.values()) == evaluated  # every eval example, once
    for name in ("0", "1", "2"):
        assert f'data-class-precision="{name}"' in page and f'data-class-recall="{name}"' in page
    assert 'id="predicted-against-actual"' not in page


@pytest.fixture(scope="module")
def one_feature(tmp_path_factory):
    """A label that depends on `signal` only (with some chance in it: `mlops init` leaves out a column that
    explains the label perfectly, as a likely leak), beside a numeric and a string column of pure noise."""
    rng = np.random.default_rng(7)
    rows = 900
    signal = rng.normal(size=rows)
    frame = pd.DataFrame({"signal": signal.round(3), "noise": rng.normal(size=rows).round(3),
                          "colour": rng.choice(["red", "green", "blue"], rows),
                          "target": np.where(signal + 0.4 * rng.normal(size=rows) > 0.2, "high", "low")})
    return init_and_run(tmp_path_factory.mktemp("one_feature"), frame, "one_feature")


def test_the_one_feature_the_label_depends_on_ranks_first(one_feature):
    config, _, _, run = one_feature
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    found = importance_of(config)
    ranked = list(found["importance"])
    assert ranked[0] == "signal", found["importance"]
    assert set(ranked) == {"signal", "noise", "colour"}  # the string feature under its raw name
    assert found["importance"]["noise"] < 0.2 * found["importance"]["signal"], found["importance"]
    assert found["importance"]["colour"] < 0.2 * found["importance"]["signal"], found["importance"]
    assert_complete(found)
    # The report's chart and table show the artifact's numbers.
    page = report_path(run.stdout).read_text()
    shown = dict(re.findall(r'data-importance="([^"]+)">[^<]*</span></td><td><span class="num">([^<]+)<', page))
    assert list(shown) == ranked
    assert all(float(shown[name]) == pytest.approx(value, rel=1e-3) for name, value in found["importance"].items())
    assert 'data-dependence="signal"' in page
