"""Delivery from the shared taxi history (conftest.py: 1.0.0, 1.0.1 the same model, 2.0.0 a new one, then
a rollback that put `stable` on 1.0.0): `mlops serve` answers, a canary gets its share of keyed requests,
promote and rollback switch `stable` on the running server, every step is in ML Metadata, and
`mlops predict` scores a file with IDs, in CSV and Parquet, with the served model's own predictions.

Against the project's stand-in server (no TF Serving binary here). The steps share one server (a
module-scoped fixture) and run in order; the history is left with `stable` on 1.0.0 and no canary.
"""
import csv
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
import yaml

from helpers import PROJECT, mlops, reader_of

ROWS = 300


@pytest.fixture(scope="module")
def port():
    from pipelines.model_server.processes import free_loopback_port

    return free_loopback_port()


def cli(taxi, port, *args):
    result = mlops(*args[:1], taxi.config, *args[1:], "--set", f"serving.port={port}",
                   "--set", "batch_inference.id_column=trip_id")
    return result


@pytest.fixture(scope="module")
def scoring_csv(taxi):
    """The history's rows with an ID column in front."""
    with open(taxi.csv_path) as f:
        header, *rows = list(csv.reader(f))
    path = taxi.work / "to_score" / "trips.csv"
    path.parent.mkdir(exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["trip_id", *header])
        writer.writerows([f"trip-{i:05d}", *row] for i, row in enumerate(rows[:ROWS]))
    return path


@pytest.fixture(scope="module")
def served(taxi, rollback, port):
    """`mlops serve` in the background, stopped with SIGTERM at the end."""
    process = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "serve", str(taxi.config), "--set",
                                f"serving.port={port}"], cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    banner, deadline = [], time.time() + 300
    while time.time() < deadline and process.poll() is None:
        line = process.stdout.readline()
        banner.append(line)
        if "Ctrl-C stops it" in line:
            break
    assert process.poll() is None, "".join(banner) + process.stderr.read()[-3000:]
    yield "".join(banner)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    import psutil
    assert not [p for p in psutil.process_iter(["cmdline"]) if "model_server/stand_in.py" in " ".join(p.info["cmdline"] or [])
                and f"--port={port}" in " ".join(p.info["cmdline"] or [])]


def online(taxi, port, scoring_csv, name) -> list[dict]:
    output = taxi.work / f"{name}.csv"
    result = cli(taxi, port, "predict", scoring_csv, "-o", output, "--online")
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    with open(output) as f:
        return list(csv.DictReader(f))


def test_serve_answers_with_the_rolled_back_version_as_stable(taxi, served, port, scoring_csv):
    assert "stable=1.0.0" in served and "stand-in" in served
    rows = online(taxi, port, scoring_csv, "before")
    assert len(rows) == ROWS and {r["served_by"] for r in rows} == {"stable"} and {r["version"] for r in rows} == {"1.0.0"}
    assert [r["trip_id"] for r in rows] == [f"trip-{i:05d}" for i in range(ROWS)]


def test_explain_writes_each_rows_attributions_with_its_id_batch_and_online_alike(taxi, served, port, scoring_csv):
    batch = taxi.work / "explained.csv"
    result = cli(taxi, port, "explain", scoring_csv, "-o", batch)
    assert result.returncode == 0 and "attributions of 300 rows by version 1.0.0" in result.stdout, result.stderr[-3000:]
    with open(batch) as f:
        rows = list(csv.DictReader(f))
    features = [k.removeprefix("attribution_") for k in rows[0] if k.startswith("attribution_")]
    # The features version 1.0.0 was trained with (a later step of the history added one to the config).
    assert len(features) == 14 and set(features) <= {f["name"] for f in yaml.safe_load(taxi.config.read_text())["features"]}
    assert [r["trip_id"] for r in rows] == [f"trip-{i:05d}" for i in range(ROWS)]
    for row in rows:  # each row's attributions add up to its output minus the baseline's
        total = sum(float(row[f"attribution_{name}"]) for name in features)
        assert abs(total - (float(row["output"]) - float(row["baseline_output"]))) < 0.02
    online_path = taxi.work / "explained-online.parquet"
    result = cli(taxi, port, "explain", scoring_csv, "-o", online_path, "--online")
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    answered = pq.read_table(online_path).to_pylist()
    assert {r["served_by"] for r in answered} == {"stable"} and {r["version"] for r in answered} == {"1.0.0"}
    assert [r["trip_id"] for r in answered] == [r["trip_id"] for r in rows]
    assert all(abs(a[f"attribution_{n}"] - float(b[f"attribution_{n}"])) < 1e-4
               for a, b in zip(answered, rows) for n in features)


def test_a_canary_at_10_percent_gets_about_10_percent_of_keyed_requests(taxi, served, port, scoring_csv):
    result = cli(taxi, port, "rollout", "canary", "2.0.0", "--percent", "10")
    assert result.returncode == 0 and "applied to the server" in result.stdout, result.stdout + result.stderr[-2000:]
    rows = online(taxi, port, scoring_csv, "canary")
    to_canary = [r for r in rows if r["served_by"] == "canary"]
    assert abs(len(to_canary) / ROWS - 0.10) <= 0.04, len(to_canary)
    assert {r["version"] for r in to_canary} == {"2.0.0"}
    assert {r["version"] for r in rows if r["served_by"] == "stable"} == {"1.0.0"}
    listed = cli(taxi, port, "models").stdout
    assert "canary" in listed.split("2.0.0")[1].splitlines()[0]


def test_promote_then_rollback_switch_stable_without_a_restart(taxi, served, port, scoring_csv):
    promoted = cli(taxi, port, "rollout", "promote")
    assert promoted.returncode == 0 and promoted.stdout.startswith("stable=2.0.0"), promoted.stderr[-2000:]
    assert {r["version"] for r in online(taxi, port, scoring_csv, "promoted")} == {"2.0.0"}

    back = cli(taxi, port, "rollback", "--to", "1.0.0")
    assert back.returncode == 0 and back.stdout.startswith("stable=1.0.0"), back.stderr[-2000:]
    assert {r["version"] for r in online(taxi, port, scoring_csv, "rolled_back")} == {"1.0.0"}

    from pipelines.metadata.rollouts import rollout_executions

    reader = reader_of(taxi.config)
    actions = [e.properties["action"].string_value for e in rollout_executions(reader)]
    assert actions == ["rollback", "canary", "promote", "rollback"]  # the history's rollback, then this module's
    tree = cli(taxi, port, "lineage", "--model", "2.0.0").stdout
    assert "Rollouts" in tree and "action=canary" in tree and "action=promote" in tree


def test_rollout_mistakes_are_clear_errors(taxi, served, port):
    unknown = cli(taxi, port, "rollout", "canary", "9.9.9")
    assert unknown.returncode == 1 and "no pushed model version 9.9.9" in unknown.stderr
    nothing = cli(taxi, port, "rollout", "abort")
    assert nothing.returncode == 1 and "no canary to abort" in nothing.stderr
    for result in (unknown, nothing):
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_batch_predictions_are_the_served_models_own_with_ids(taxi, served, port, scoring_csv, file_format):
    """With the ID column (CSV), each prediction beside its ID; without one (Parquet), beside its row's number."""
    import pyarrow.parquet as pq
    from pyarrow import csv as pa_csv

    output = taxi.work / f"batch.{file_format}"
    result = cli(taxi, port, "predict", scoring_csv, "-o", output) if file_format == "csv" else \
        mlops("predict", taxi.config, scoring_csv, "-o", output, "--set", f"serving.port={port}")
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert f"{ROWS} rows scored by version 1.0.0" in result.stdout
    table = pa_csv.read_csv(output) if file_format == "csv" else pq.read_table(output)
    if file_format == "csv":
        ids = table.column("trip_id").to_pylist()
    else:
        assert "rows are numbered in input_row" in result.stdout and "one of: trip_id, " in result.stdout
        ids = [f"trip-{n - 1:05d}" for n in table.column("input_row").to_pylist()]  # row n is the n-th trip
    predicted = dict(zip(ids, table.column("outputs").to_pylist()))
    assert sorted(predicted) == [f"trip-{i:05d}" for i in range(ROWS)]

    expected = own_predictions(taxi, scoring_csv)
    assert max(abs(predicted[k] - expected[k]) for k in expected) < 1e-5


def own_predictions(taxi, scoring_csv) -> dict:
    """The stable version's SavedModel, called in this process on the same rows."""
    import tensorflow as tf

    from pipelines.metadata.registry import stable_model
    from pipelines.shared.csv_tables import read_csv, table_to_examples

    version, _ = stable_model(reader_of(taxi.config), str(taxi.serving_dir))
    table = read_csv(str(scoring_csv), [""])
    model = tf.saved_model.load(version.serving_path)
    outputs = model.signatures["serving_default"](examples=tf.constant(table_to_examples(table)))["outputs"]
    return dict(zip(table.column("trip_id").to_pylist(), outputs.numpy().reshape(-1).tolist()))


def test_predict_with_a_wrong_id_column_or_without_a_model_is_a_clear_error(taxi, scoring_csv, tmp_path):
    wrong_id = mlops("predict", taxi.config, scoring_csv, "-o", tmp_path / "p.csv", "--set",
                     "batch_inference.id_column=ride")
    assert wrong_id.returncode == 2 and "'ride' is not a column of" in wrong_id.stderr
    nothing_served = mlops("predict", taxi.config, scoring_csv, "-o", tmp_path / "p.csv", "--set",
                           f"output_root={tmp_path / 'empty'}", "--set", "batch_inference.id_column=trip_id")
    assert nothing_served.returncode == 1 and "nothing has run with this config" in nothing_served.stderr
    unexplained = mlops("explain", taxi.config, scoring_csv, "-o", tmp_path / "e.csv", "--set",
                        f"output_root={tmp_path / 'empty'}", "--set", "batch_inference.id_column=trip_id")
    assert unexplained.returncode == 1 and "nothing has run with this config" in unexplained.stderr
    assert "Traceback" not in unexplained.stderr and not (tmp_path / "e.csv").exists()
    with open(scoring_csv) as f:  # the same rows without the fare column
        rows = list(csv.reader(f))
    fare = rows[0].index("fare")
    (tmp_path / "no_fare").mkdir()
    with open(tmp_path / "no_fare" / "trips.csv", "w", newline="") as f:
        csv.writer(f).writerows([v for i, v in enumerate(row) if i != fare] for row in rows)
    no_feature = mlops("predict", taxi.config, tmp_path / "no_fare", "-o", tmp_path / "p.csv", "--set",
                       "batch_inference.id_column=trip_id")
    assert no_feature.returncode == 2 and "trips.csv lacks the model's features fare " in no_feature.stderr
    before = scoring_csv.read_bytes()
    over_input = mlops("predict", taxi.config, scoring_csv, "-o", scoring_csv, "--set", "batch_inference.id_column=trip_id")
    assert over_input.returncode == 2 and "predictions never write over their input" in over_input.stderr
    assert scoring_csv.read_bytes() == before
    for result in (wrong_id, nothing_served, no_feature, over_input):
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "p.csv").exists()
