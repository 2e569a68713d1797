"""A table as a data scientist has it: labels missing on some rows, numbers missing on many, whole numbers
in a float column, from `mlops init` to a pushed model, then new data scored and serving data monitored.
Rows without a label are never trained or evaluated as a class; missing numbers become the training mean or
median; the summary and the report say both."""
import csv
import re

import numpy as np
import pandas as pd
import pytest

from helpers import init_and_run, mlops, summary_of

ROWS, UNLABELLED = 2700, 168
CLASSES = ["A", "B", "C", "D"]


def grades_table(rng, rows=ROWS) -> pd.DataFrame:
    grade = rng.choice(CLASSES, rows, p=[0.2, 0.3, 0.3, 0.2])
    level = np.array([CLASSES.index(g) for g in grade])
    return pd.DataFrame({
        "passenger_id": np.arange(rows),
        "age": (30 + 5 * level + rng.normal(0, 6, rows)).round(),          # whole numbers, missing on 20%
        "income": np.exp(10 + 0.3 * level + rng.normal(0, 0.5, rows)).round(2),  # skewed, missing on 10%
        "city": rng.choice(["north", "south", "east", "west"], rows),
        "hours": (2 * level + rng.normal(0, 3, rows)).round(1),
        "grade": grade,
    })


@pytest.fixture(scope="module")
def grades(tmp_path_factory):
    rng = np.random.default_rng(1)
    work = tmp_path_factory.mktemp("grades")
    table = grades_table(rng)
    table.loc[rng.random(ROWS) < 0.2, "age"] = np.nan
    table.loc[rng.random(ROWS) < 0.1, "income"] = np.nan
    table["grade"] = table["grade"].astype(object)
    table.loc[rng.choice(ROWS, UNLABELLED, replace=False), "grade"] = None
    config, _, init, run = init_and_run(work, table, "grades", "grade", "--set", "model.train_steps=300")
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    return work, table, config, init, run


def test_init_says_how_missing_labels_and_numbers_are_handled(grades):
    work, _, config, init, _ = grades
    assert "label grade: missing on 6.2% of rows" in init.stdout
    assert re.search(r"age: missing on \d+\.\d% of rows, filled with the training mean, and the model is told", init.stdout)
    assert "income: missing on" in init.stdout and "training median (skewness" in init.stdout
    text = config.read_text()
    assert "impute: mean, missing_indicator: true" in text and "impute: median" in text


def test_rows_without_a_label_never_reach_training_or_evaluation_as_a_class(grades):
    import tensorflow as tf

    _, table, config, _, run = grades
    summary = summary_of(config)
    assert summary.outcome == "pushed"
    counts = summary.label_counts
    assert sum(c["unlabelled"] for c in counts.values()) == UNLABELLED
    assert f"Missing labels: {UNLABELLED} of {ROWS} rows (6.2%) left out of training and evaluation" in run.stdout
    # The labels the Trainer and the Evaluator see (the examples put through the transform graph, as the
    # Trainer does): exactly the labelled rows, each class as often as in the data.
    import tensorflow_transform as tft

    transform_output = tft.TFTransformOutput(summary.output("Transform", "transform_graph").uri)
    layer, spec = transform_output.transform_features_layer(), transform_output.raw_feature_spec()
    examples = summary.output("CsvExampleGen", "examples").uri
    labels = []
    for split in ("train", "eval"):
        files = tf.io.gfile.glob(f"{examples}/Split-{split}/*")
        for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(512):
            labels += layer(tf.io.parse_example(batch, spec))["grade_label"].numpy().tolist()
    expected = table["grade"].value_counts()
    assert {CLASSES[i]: labels.count(i) for i in range(4)} == {c: int(expected[c]) for c in CLASSES}
    assert summary.metrics["overall"]["example_count"] == counts["eval"]["examples"]


def test_the_summary_and_report_say_what_missing_numbers_became(grades):
    _, table, config, _, run = grades
    summary = summary_of(config)
    filled = {f.feature: f for f in summary.filled}
    assert set(filled) == {"age", "income"}
    assert filled["age"].becomes.startswith("mean ") and filled["income"].becomes.startswith("median ")
    assert 0.15 < filled["age"].missing < 0.25
    # The mean Transform filled with is the training split's: within the eval rows' sampling error of all rows'.
    assert abs(float(filled["age"].becomes.split()[1].rstrip(",")) - table["age"].mean()) < 1.0
    assert re.search(r"age\s+\d+\.\d% -> mean \d+", run.stdout)
    report = next((config.parent.parent / "outputs" / "grades" / "reports").glob("*.html")).read_text()
    assert f"Missing labels: {UNLABELLED} of {ROWS}" in report and 'data-filled="age"' in report


def test_new_data_with_whole_numbers_in_a_float_column_is_scored_and_unseen_values_counted(grades, tmp_path):
    work, _, config, _, _ = grades
    new = grades_table(np.random.default_rng(7), rows=40).drop(columns=["grade"])
    new["age"] = new["age"].astype(int)  # written 30, not 30.0
    new.loc[0, "city"] = "Atlantis"
    new.to_csv(tmp_path / "new.csv", index=False)
    result = mlops("predict", config, tmp_path / "new.csv", "-o", tmp_path / "scores.csv")
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "40 rows scored" in result.stdout
    assert "values never seen in training (scored as unknown): city on 1 of 40 rows" in result.stdout
    with open(tmp_path / "scores.csv") as f:
        assert len(list(csv.DictReader(f))) == 40
    explained = mlops("explain", config, tmp_path / "new.csv", "-o", tmp_path / "why.csv")  # the same account of it
    assert explained.returncode == 0, explained.stdout + explained.stderr[-3000:]
    assert "values never seen in training (scored as unknown): city on 1 of 40 rows" in explained.stdout
    (tmp_path / "served").mkdir()
    new.to_csv(tmp_path / "served" / "requests.csv", index=False)
    monitored = mlops("monitor", config, "--serving", tmp_path / "served")
    assert "values never seen in training (scored as unknown): city on 1 of 40 rows" in monitored.stdout, (
        monitored.stdout + monitored.stderr[-3000:])

    (tmp_path / "bad.csv").write_text("passenger_id,age,income,city,hours\n1,30,5.0,east,1.0\n2,thirty,5.0,east,1.0\n")
    bad = mlops("predict", config, tmp_path / "bad.csv", "-o", tmp_path / "bad-scores.csv")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "bad.csv, line 3, column 'age': 'thirty' is not a number (the schema's type for it is FLOAT)" in bad.stderr
    assert not (tmp_path / "bad-scores.csv").exists()


def test_monitor_catches_a_gross_shift_on_a_few_hundred_rows_and_not_the_same_data(grades, tmp_path):
    _, _, config, _, _ = grades
    same = grades_table(np.random.default_rng(11), rows=300).drop(columns=["grade"])
    shifted = same.copy()
    shifted["city"] = "north"
    shifted["age"] = shifted["age"] + 25
    for name, frame in (("same", same), ("shifted", shifted)):
        (tmp_path / name).mkdir()
        frame.to_csv(tmp_path / name / "requests.csv", index=False)
    calm = mlops("monitor", config, "--serving", tmp_path / "same")
    assert calm.returncode == 0, calm.stdout + calm.stderr[-3000:]
    assert "judged by significance tests" in calm.stdout and "SKEWED" not in calm.stdout
    alarm = mlops("monitor", config, "--serving", tmp_path / "shifted")
    assert alarm.returncode == 1, alarm.stdout + alarm.stderr[-3000:]
    skewed = {line.split()[0] for line in alarm.stdout.splitlines() if line.rstrip().endswith("SKEWED")}
    assert skewed == {"age", "city"}
