"""Datasets the project has never seen, from `mlops init` straight to `mlops run` with no edit: a
regression target (scikit-learn's diabetes progression, 10 numeric features) and integer class labels
(its wine cultivars 0/1/2, 13 features); data that ships with scikit-learn, written out as CSV."""
import pytest

from helpers import init_and_run, predict_in_fresh_process, summary_of, versions


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
