"""A regression target and integer class labels, end to end on data that ships with scikit-learn:
the diabetes progression (10 numeric features) and the wine cultivars (labels 0/1/2, 13 features).
No curated schema: SchemaGen infers one. Each run is small (few steps); the point is the plumbing."""
import pytest
import yaml

from helpers import mlops, predict_in_fresh_process, summary_of, versions


def write_dataset(frame, work):
    data = work / "data"
    data.mkdir(parents=True)
    frame.to_csv(data / "data.csv", index=False)
    return data / "data.csv"


def write_config(work, name, data_dir, label, features, evaluation, steps):
    config = {"name": name, "output_root": str(work / "out"), "data": {"path": str(data_dir)},
              "label": label, "features": features, "evaluation": evaluation,
              "model": {"hidden_units": [16], "learning_rate": 0.05, "batch_size": 32, "train_steps": steps,
                        "eval_steps": 5},
              "infra_validation": {"platform": "local_process", "num_examples": 5}}
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory):
    from sklearn.datasets import load_diabetes

    work = tmp_path_factory.mktemp("diabetes")
    frame = load_diabetes(as_frame=True, scaled=False).frame  # target: disease progression, 25..346
    csv_path = write_dataset(frame, work)
    config = write_config(
        work, "diabetes", csv_path.parent, {"kind": "regression", "name": "progression", "column": "target"},
        [{"name": c, "kind": "numeric"} for c in frame.columns if c != "target"],
        {"thresholds": [{"metric": "MeanAbsoluteError", "upper_bound": 100.0,
                         "change": {"direction": "lower_is_better", "absolute": 1000.0}}]}, steps=300)
    return config, csv_path, mlops("run", config)


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    from sklearn.datasets import load_wine

    work = tmp_path_factory.mktemp("wine")
    frame = load_wine(as_frame=True).frame  # target: cultivar 0, 1 or 2, stored as integers
    csv_path = write_dataset(frame, work)
    config = write_config(
        work, "wine", csv_path.parent, {"kind": "classes", "name": "cultivar", "column": "target", "classes": [0, 1, 2]},
        [{"name": c, "kind": "numeric"} for c in frame.columns if c != "target"],
        {"thresholds": [{"metric": "SparseCategoricalAccuracy", "lower_bound": 0.7}]}, steps=150)
    return config, csv_path, mlops("run", config)


def test_a_regression_target_is_trained_evaluated_and_pushed(diabetes):
    config, csv_path, result = diabetes
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    summary = summary_of(config)
    assert summary.outcome == "pushed" and summary.blessed is True, result.stdout
    overall = summary.metrics["overall"]
    assert set(overall) >= {"mean_squared_error", "mean_absolute_error"} and overall["mean_absolute_error"] < 100
    pushed = versions(config.parent / "out" / "serving_model")
    predictions = predict_in_fresh_process(config.parent / "out" / "serving_model" / pushed[0], csv_path, [""],
                                           drop=["target"])
    assert len(predictions) == 20 and all(len(p) == 1 for p in predictions)
    assert 50 < sum(p[0] for p in predictions) / 20 < 300  # progression values, not probabilities


def test_integer_class_labels_are_trained_evaluated_and_pushed(wine):
    config, csv_path, result = wine
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    summary = summary_of(config)
    assert summary.outcome == "pushed" and summary.metrics["overall"]["sparse_categorical_accuracy"] >= 0.7
    pushed = versions(config.parent / "out" / "serving_model")
    predictions = predict_in_fresh_process(config.parent / "out" / "serving_model" / pushed[0], csv_path, [""],
                                           drop=["target"])
    assert len(predictions) == 20 and all(len(p) == 3 and abs(sum(p) - 1) < 1e-4 for p in predictions)
    assert sum(max(range(3), key=p.__getitem__) == 0 for p in predictions) >= 14  # the first rows are cultivar 0
