"""Continuous training on a folder receiving span after span (made from the shipped taxi data):
similar data retrains and pushes new versions, drifted data stops with the drifted features named,
an unchanged folder is served from cache, and `mlops monitor` flags serving skew with exit 1.

The steps share one history (module-scoped fixtures, each running once, in order).
"""
import csv
import io
import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import make_config, mlops, package_csv, reader_of, summary_of, versions

SPAN_ROWS = 3000
SHIFTED, RECODED = "trip_miles", "payment_type"  # what span 3 changes


def taxi_rows() -> tuple[list[str], list[list[str]]]:
    """The shipped taxi rows in a fixed random order, so that every span is a random sample of one distribution."""
    header, *rows = list(csv.reader(io.StringIO(package_csv("taxi").read_text())))
    random.Random(7).shuffle(rows)
    return header, rows


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def drifted(header: list[str], rows: list[list[str]]) -> list[list[str]]:
    """Trips one mile longer, and two card payments in three made in cash: one numeric shift, one new
    category mix (what bench/drift_noise.py measures: 0.25 and 0.20, against at most 0.05 for same data)."""
    miles, payment = header.index(SHIFTED), header.index(RECODED)
    changed = []
    for i, row in enumerate(rows):
        row = list(row)
        if row[miles]:
            row[miles] = str(round(float(row[miles]) + 1.0, 2))
        if row[payment] == "Credit Card" and i % 3:
            row[payment] = "Cash"
        changed.append(row)
    return changed


@dataclass
class Spans:
    work: Path
    config: Path
    header: list[str]
    rows: list[list[str]]

    @property
    def serving_dir(self) -> Path:
        return self.work / "out" / "serving_model"

    def add_span(self, number: int, rows: list[list[str]]) -> None:
        write_csv(self.work / "data" / f"span-{number}" / "data.csv", self.header, rows)

    def run(self):
        result = mlops("run", self.config)
        return result, summary_of(self.config), versions(self.serving_dir)


@pytest.fixture(scope="module")
def spans(tmp_path_factory) -> Spans:
    work = tmp_path_factory.mktemp("spans")
    header, rows = taxi_rows()
    (work / "data").mkdir()
    # Thresholds any model meets: these runs are about the data checks, not the model's quality.
    # A window of two spans: each run trains on the newest span and the one before it.
    config = make_config("taxi", work, work / "data", data__pattern="span-{SPAN}/*.csv", data__span_window=2,
                         model__train_steps=40, model__eval_steps=5,
                         evaluation__thresholds__0__lower_bound=0.5,
                         evaluation__thresholds__0__change={"direction": "higher_is_better", "absolute": -1.0},
                         infra_validation__platform="local_process")
    return Spans(work, config, header, rows)


@pytest.fixture(scope="module")
def span_1(spans):
    spans.add_span(1, spans.rows[:SPAN_ROWS])
    return spans.run()


@pytest.fixture(scope="module")
def span_2(spans, span_1):
    spans.add_span(2, spans.rows[SPAN_ROWS: 2 * SPAN_ROWS])
    return spans.run()


@pytest.fixture(scope="module")
def no_new_span(spans, span_2):
    return spans.run()


@pytest.fixture(scope="module")
def span_3(spans, no_new_span):
    spans.add_span(3, drifted(spans.header, spans.rows[2 * SPAN_ROWS: 3 * SPAN_ROWS]))
    return spans.run()


def test_the_first_span_trains_and_pushes_with_nothing_to_compare_with(span_1):
    result, summary, served = span_1
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert summary.spans == "1" and summary.outcome == "pushed" and len(served) == 1
    assert summary.drift == [] and summary.drift_note == "not checked: no model is served yet"
    assert "span 1" in result.stdout


def test_a_new_span_from_the_same_distribution_is_compared_feature_by_feature_and_pushed(spans, span_2):
    result, summary, served = span_2
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert summary.spans == "1,2" and summary.outcome == "pushed" and len(served) == 2
    compared = {c.feature: c for c in summary.drift}
    assert set(compared) == {f["name"] for f in __import__("yaml").safe_load(spans.config.read_text())["features"]} | {
        "(examples)"}
    assert not [c for c in summary.drift if c.exceeded], "\n".join(map(str, summary.drift))
    assert all(0 < c.value < c.threshold for name, c in compared.items() if name != "(examples)")
    assert f"against the training data of served version {served[0]}" in summary.drift_note
    assert "DriftCheck" in result.stdout and "trip_miles" in result.stdout  # the summary lists every feature
    # The window: span 1 whole in its own split, which the Trainer read; the checks saw span 2 only.
    examples = summary.output("CsvExampleGen", "examples")
    assert json.loads(examples.custom_properties["split_names"].string_value
                      if "split_names" in examples.custom_properties
                      else examples.properties["split_names"].string_value) == ["train", "eval", "earlier_spans"]
    earlier = list((Path(examples.uri) / "Split-earlier_spans").glob("*.gz"))
    import tensorflow as tf

    assert sum(1 for _ in tf.data.TFRecordDataset([str(p) for p in earlier], compression_type="GZIP")) == SPAN_ROWS
    statistics = Path(summary.output("StatisticsGen", "statistics").uri)
    assert sorted(p.name for p in statistics.iterdir()) == ["Split-eval", "Split-train"]
    reader = reader_of(spans.config)
    trainer = next(e for e in reader.run_executions(summary.run_id) if reader.node_name(e) == "Trainer")
    assert "earlier_spans" in trainer.custom_properties["train_args"].string_value
    # The model trained on span 2 is a new minor version of the same data contract.
    models = mlops("models", spans.config)
    assert "1.1.0" in models.stdout, models.stdout


def test_no_new_span_is_served_from_cache(no_new_span, span_2):
    result, summary, served = no_new_span
    assert result.returncode == 0, result.stdout[-3000:]
    assert summary.outcome == "cached" and served == span_2[2]
    states = {c.node: c.state for c in summary.components}
    assert {states[node] for node in ("CsvExampleGen", "StatisticsGen", "Transform", "Trainer", "Evaluator",
                                      "InfraValidator", "Pusher")} == {"cached"}, states
    # Span 2's push changed what is served: the check ran again, against the model trained on span 2 itself.
    assert states["DriftCheck"] == "complete" and not [c for c in summary.drift if c.exceeded]


def test_a_drifted_span_stops_before_training_naming_exactly_the_drifted_features(spans, span_3, no_new_span):
    result, summary, served = span_3
    assert result.returncode == 1
    assert summary.spans == "2,3" and summary.outcome == "gated" and served == no_new_span[2]
    assert {c.feature for c in summary.drift if c.exceeded} == {SHIFTED, RECODED}, "\n".join(map(str, summary.drift))
    assert summary.anomalies == []  # the data is valid: it moved
    assert not {"Transform", "Trainer", "Evaluator", "Pusher"} & {c.node for c in summary.components}
    assert "Stopped: the data gate found drift; nothing was trained or pushed" in result.stdout
    for feature in (SHIFTED, RECODED):
        assert any(feature in line and "DRIFTED" in line for line in result.stdout.splitlines())
    # The run's report shows the same table, and each drifted feature's card is marked.
    report = spans.work / "report.html"
    assert mlops("report", spans.config, "-o", report).returncode == 0
    page = report.read_text()
    assert page.count('data-drift="') == 15 and "2 of 15 over their threshold" in page
    for feature in (SHIFTED, RECODED):
        card = page.split(f'data-feature="{feature}"')[1].split('<div class="feature')[0]
        assert 'class="bad" data-distance=' in card
    assert 'class="bad" data-distance=' not in page.split('data-feature="fare"')[1].split('<div class="feature')[0]


def test_mlops_runs_shows_each_runs_span(spans, span_3):
    listing = mlops("runs", spans.config).stdout
    rows = [line.split() for line in listing.splitlines() if line.strip().startswith(("20", "run"))]
    assert [row[-2] if row[-1] != "blessed" else row[-3] for row in rows[1:]] == ["1", "1,2", "1,2", "2,3"], listing


# --- mlops monitor ----------------------------------------------------------------------


def prediction_logs(path: Path, header: list[str], rows: list[list[str]], without: str) -> Path:
    """Request logs as the serving side writes them: one PredictionLog per request of 10 serialized
    tf.Examples (the model's `examples` input), gzipped TFRecords; the label column is not sent."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    from pipelines.shared import csv_tables

    kept = [i for i, name in enumerate(header) if name != without]
    csv_path = write_csv(path.parent / "requests.csv", [header[i] for i in kept], [[r[i] for i in kept] for r in rows])
    examples = csv_tables.csv_to_examples(str(csv_path), [""])
    csv_path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for start in range(0, len(examples), 10):
            log = prediction_log_pb2.PredictionLog()
            log.predict_log.request.model_spec.name = "taxi"
            log.predict_log.request.inputs["examples"].CopyFrom(tf.make_tensor_proto(examples[start: start + 10]))
            writer.write(log.SerializeToString())
    return path


def test_clean_serving_logs_pass_the_skew_check_and_it_is_recorded_in_ml_metadata(spans, span_3):
    logs = prediction_logs(spans.work / "serving-clean" / "log-0.tfrecord.gz", spans.header,
                           spans.rows[3 * SPAN_ROWS: 4 * SPAN_ROWS], without="tips")
    result = mlops("monitor", spans.config, "--serving", logs.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{SPAN_ROWS} serving examples" in result.stdout and "0 of 14 features over their threshold" in result.stdout
    # The served model's importance on the serving data, against its training run's.
    assert "Attribution drift: nDCG@5 " in result.stdout, result.stdout

    reader = reader_of(spans.config)
    [check] = reader.store.get_executions_by_type("mlops.SkewCheck")
    inputs, outputs = reader.inputs_of(check.id), reader.outputs_of(check.id)
    assert reader.artifact_type(inputs["served_model"][0]) == "PushedModel"
    served = inputs["served_model"][0].custom_properties["pushed_destination"].string_value
    assert served.endswith(versions(spans.serving_dir)[-1])
    assert (Path(outputs["statistics"][0].uri) / "Split-serving" / "FeatureStats.pb").stat().st_size > 0
    tree = mlops("lineage", spans.config).stdout  # the served model's lineage shows the check made against it
    assert outputs["statistics"][0].uri in tree and outputs["skew"][0].uri in tree


def test_skewed_serving_data_exits_1_naming_the_feature_and_retrain_runs_the_pipeline(spans, span_3):
    skewed = drifted(spans.header, spans.rows[4 * SPAN_ROWS: 5 * SPAN_ROWS])
    tips = spans.header.index("tips")
    write_csv(spans.work / "serving-skewed" / "requests.csv", [h for h in spans.header if h != "tips"],
              [[v for i, v in enumerate(row) if i != tips] for row in skewed])
    result = mlops("monitor", spans.config, "--serving", spans.work / "serving-skewed", "--retrain")
    assert result.returncode == 1, result.stdout + result.stderr
    flagged = {line.split()[0] for line in result.stdout.splitlines() if line.rstrip().endswith("DRIFTED")}
    assert flagged == {SHIFTED, RECODED}, result.stdout
    assert "Traceback" not in result.stderr
    # --retrain ran the pipeline on the latest data: span 3, which the drift gate stops.
    assert "Retraining on the latest data" in result.stdout and "Stopped: the data gate found drift" in result.stdout


def test_monitor_without_serving_data_or_with_files_it_cannot_read_says_so(spans, span_1):
    result = mlops("monitor", spans.config, "--serving", spans.work / "nowhere")
    assert result.returncode == 1 and "no serving data in" in result.stderr and "Traceback" not in result.stderr
    (spans.work / "serving-empty").mkdir()
    result = mlops("monitor", spans.config, "--serving", spans.work / "serving-empty")
    assert result.returncode == 1 and "no serving data file in" in result.stderr and "Traceback" not in result.stderr
    (spans.work / "serving-bad").mkdir()
    (spans.work / "serving-bad" / "log.tfrecord").write_text("not a record")
    result = mlops("monitor", spans.config, "--serving", spans.work / "serving-bad")
    assert result.returncode == 1 and "log.tfrecord: not a TFRecord file" in result.stderr
    assert "Traceback" not in result.stderr
