"""Column names as CSV files have them (spaces, quotes, punctuation, non-ASCII letters) work from `mlops init`
to predictions; names a pipeline cannot tell apart (duplicates, case clashes) are refused by name."""
import subprocess

import numpy as np
import pandas as pd
import pytest

from helpers import PROJECT, init_and_run, mlops, summary_of

ODD = ["Age (years)", "cät", 'quote"d', "Fare £"]


@pytest.fixture(scope="module")
def odd(tmp_path_factory):
    work = tmp_path_factory.mktemp("odd")
    rng = np.random.default_rng(5)
    rows = 800
    y = rng.integers(0, 2, rows)
    table = pd.DataFrame({"Passenger Id": np.arange(rows), ODD[0]: (30 + 8 * y + rng.normal(0, 10, rows)).round(1),
                          ODD[1]: rng.choice(["a", "b", "c"], rows), ODD[2]: rng.normal(y, 1.5, rows).round(2),
                          ODD[3]: (20 + 10 * y + rng.normal(0, 15, rows)).round(2), "Survived?": y})
    table.loc[rng.random(rows) < 0.1, ODD[0]] = np.nan
    config, _, _, run = init_and_run(work, table, "odd", "Survived?", "--set", "model.train_steps=200")
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    return work, table, config


def test_odd_column_names_are_trained_on_pushed_and_scored_under_their_own_names(odd, tmp_path):
    from pipelines.config import load_config

    work, table, config = odd
    cfg = load_config(config)
    assert [f.name for f in cfg.features] == ODD and cfg.label.column == "Survived?"
    summary = summary_of(config)
    assert summary.outcome == "pushed" and summary.metrics["overall"]["auc"] > 0.6
    assert [f.feature for f in summary.filled] == ["Age (years)"]
    assert "cät=a" in summary.metrics  # sliced on, under its real name
    table.drop(columns=["Survived?"]).head(30).to_csv(tmp_path / "new.csv", index=False)
    scored = mlops("predict", config, tmp_path / "new.csv", "-o", tmp_path / "scores.csv")
    assert scored.returncode == 0, scored.stdout + scored.stderr[-3000:]
    scores = pd.read_csv(tmp_path / "scores.csv")
    # A plain row counter, not pseudonymised: predictions carry each row's own ID, under the column's name.
    assert "Passenger Id" not in cfg.privacy.pseudonymize and list(scores["Passenger Id"]) == list(range(30))
    assert scores["score_1"].between(0, 1).all()


def test_duplicate_and_case_clashing_names_are_refused_by_name(tmp_path):
    from pipelines.config import ConfigError, FeaturesConfig

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d.csv").write_text("a,b,a,y\n1,2,3,0\n")
    (tmp_path / "d.yaml").write_text(
        f"name: d\noutput_root: {tmp_path / 'out'}\ndata: {{path: {tmp_path / 'data'}}}\n"
        "label: {kind: classes, name: y_label, column: y, classes: [0, 1]}\nfeatures: [{name: b, kind: numeric}]\n")
    result = mlops("validate", tmp_path / "d.yaml")
    assert result.returncode == 2 and "has the column name 'a' more than once" in result.stderr
    with pytest.raises(ValueError, match="feature names must differ by more than case: Age and age"):
        FeaturesConfig.model_validate({"label": {"kind": "regression", "name": "y", "column": "y"},
                                       "features": [{"name": "Age", "kind": "numeric"}, {"name": "age", "kind": "numeric"}]})
    assert issubclass(ConfigError, Exception)


CLOSED_READER = """
import os, sys
read, write = os.pipe()
os.close(read)  # the reader is gone before the first line, as `| head` is after its lines
os.dup2(write, 1)
from pipelines import cli
sys.exit(getattr(cli, sys.argv[1])(["validate"]))
"""


@pytest.mark.parametrize("entry, clean", [("main", True), ("run_command", False)])
def test_output_piped_into_a_reader_that_left_is_no_traceback(entry, clean):
    import sys

    result = subprocess.run([sys.executable, "-c", CLOSED_READER, entry], capture_output=True, text=True,
                            cwd=PROJECT, timeout=300)
    if clean:  # the command the user runs
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    else:  # what it would be without the guard: the test can fail
        assert "BrokenPipeError" in result.stderr
