"""The penguin config runs end to end with no code change: multi-class, "NA" cells, its own schema.
With tuning on (two small trials), which also covers the Tuner -> Trainer path."""
from helpers import make_config, mlops, package_csv, predict_in_fresh_process, summary_of, versions


def test_penguin_pipeline_end_to_end(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    csv_path = data / "penguins.csv"
    csv_path.write_text(package_csv("penguin").read_text())  # 344 rows, some "NA"
    config = make_config("penguin", tmp_path, data, model__train_steps=150, evaluation__thresholds__0__lower_bound=0.6,
                         tuning__enabled=True, tuning__max_trials=2, tuning__train_steps=20, tuning__eval_steps=2,
                         tuning__search_space={"hidden_units": [[8], [16, 8]], "learning_rate": [0.01, 0.05]})
    result = mlops("run", config)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]

    summary = summary_of(config)
    assert all(c.state == "complete" for c in summary.components)
    tuner = summary.component("Tuner")
    assert tuner is not None and tuner.outputs["best_hyperparameters"]
    assert summary.blessed is True
    assert summary.metrics["overall"]["sparse_categorical_accuracy"] >= 0.6
    assert {"island=Biscoe", "island=Dream", "island=Torgersen"} <= set(summary.metrics)

    pushed = versions(tmp_path / "out" / "serving_model")
    assert len(pushed) == 1
    served = predict_in_fresh_process(tmp_path / "out" / "serving_model" / pushed[0], csv_path, ["NA"],
                                      drop=["species"])
    predictions = served["outputs"]
    assert len(predictions) == 20 and all(len(p) == 3 and abs(sum(p) - 1) < 1e-4 for p in predictions)
    assert served["classes"][0] == ["Adelie", "Chinstrap", "Gentoo"] and served["scores"] == predictions
    # Row 4 of the CSV has every measurement missing ("NA"): still a prediction.
    assert all(p == p for p in predictions[3])  # not NaN
