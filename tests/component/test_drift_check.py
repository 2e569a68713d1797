"""The DriftCheck executor and the data gate on real taxi data: two random halves of one span raise no
alarm with the default thresholds; a drifted half is flagged on exactly the features that moved."""
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from tfx.types import standard_artifacts

from components.data_gate import gate
from components.drift_check.component import DriftCheck
from pipelines.config import load_config
from pipelines.shared import artifact_files, distances, serving_layout

pytestmark = pytest.mark.component


@pytest.fixture(scope="module")
def taxi():
    from pipelines.config import DEFAULT_CONFIG
    from pipelines.shared import csv_tables

    cfg = load_config(DEFAULT_CONFIG)
    table = pa.concat_tables([csv_tables.read_csv(f, cfg.data.null_values) for f in cfg.input_files()])
    order = np.random.default_rng(11).permutation(table.num_rows)[:5000]  # one span of 5000 rows, in halves
    return cfg, table.take(pa.array(order[:2500])), table.take(pa.array(order[2500:]))


def write_statistics(cfg, rows, uri):
    from tensorflow_data_validation.statistics import stats_impl

    from pipelines.shared import csv_tables

    options = distances.statistics_options(cfg.features)
    statistics = stats_impl.generate_statistics_in_memory(csv_tables.table_to_record_batch(rows), options)
    (uri / "Split-train").mkdir(parents=True)
    (uri / "Split-train" / artifact_files.STATISTICS_FILE).write_bytes(statistics.SerializeToString())
    return str(uri)


def run_drift_check(cfg, tmp_path, served_rows, new_rows, name):
    import json

    serving_dir = tmp_path / "serving"
    (serving_dir / "1").mkdir(parents=True, exist_ok=True)
    serving_layout.attach_training_statistics(write_statistics(cfg, served_rows, tmp_path / f"{name}-served"),
                                     str(serving_dir / "1"), {})
    statistics = standard_artifacts.ExampleStatistics()
    statistics.uri = write_statistics(cfg, new_rows, tmp_path / f"{name}-new")
    schema = standard_artifacts.Schema()
    schema.uri = str(cfg.schema_path).rsplit("/", 1)[0]
    drift = standard_artifacts.ExampleAnomalies()
    drift.uri = str(tmp_path / f"{name}-drift")
    DriftCheck.EXECUTOR_SPEC.executor_class().Do(
        {"statistics": [statistics], "schema": [schema]}, {"drift": [drift]},
        {"serving_dir": str(serving_dir),
         "config": json.dumps({"comparators": cfg.comparators("drift"),
                               "min_examples_fraction": cfg.drift.min_examples_fraction})})
    return drift


def test_two_random_halves_of_one_span_raise_no_alarm_with_the_default_thresholds(taxi, tmp_path):
    cfg, first, second = taxi
    drift = run_drift_check(cfg, tmp_path, first, second, "halves")
    comparisons = distances.read_comparisons(drift.uri)
    assert [c.feature for c in comparisons] == [*cfg.comparators("drift"), "(examples)"]
    assert not distances.exceeded(comparisons), "\n".join(map(str, comparisons))
    assert drift.get_string_custom_property("drifted") == "" and drift.get_string_custom_property("served_version") == "1"
    gate.check_drift(drift.uri)  # the gate lets it through


def test_a_drifted_half_is_flagged_on_exactly_the_features_that_moved_and_the_gate_stops(taxi, tmp_path):
    cfg, first, second = taxi
    longer = pc.add(second.column("trip_miles"), 1.0)
    cash = pc.if_else(pc.and_(pc.equal(second.column("payment_type"), "Credit Card"),
                              pa.array(np.arange(second.num_rows) % 3 != 0)), "Cash", second.column("payment_type"))
    moved = second.set_column(second.column_names.index("trip_miles"), "trip_miles", longer)
    moved = moved.set_column(moved.column_names.index("payment_type"), "payment_type", cash)
    drift = run_drift_check(cfg, tmp_path, first, moved.slice(0, 200), "drifted")
    flagged = {c.feature for c in distances.exceeded(distances.read_comparisons(drift.uri))}
    # 200 rows against 2500: under min_examples_fraction (0.1) too.
    assert flagged == {"trip_miles", "payment_type", "(examples)"}
    with pytest.raises(gate.DriftFound, match="trip_miles") as stopped:
        gate.check_drift(drift.uri)
    assert "payment_type" in str(stopped.value) and "company" not in str(stopped.value)


def test_nothing_served_yet_is_recorded_as_not_checked_and_the_gate_refuses_a_missing_record(taxi, tmp_path):
    import json

    cfg, first, _ = taxi
    statistics = standard_artifacts.ExampleStatistics()
    statistics.uri = write_statistics(cfg, first, tmp_path / "new")
    schema = standard_artifacts.Schema()
    schema.uri = str(cfg.schema_path).rsplit("/", 1)[0]
    drift = standard_artifacts.ExampleAnomalies()
    drift.uri = str(tmp_path / "drift")
    DriftCheck.EXECUTOR_SPEC.executor_class().Do(
        {"statistics": [statistics], "schema": [schema]}, {"drift": [drift]},
        {"serving_dir": str(tmp_path / "nothing"), "config": json.dumps({"comparators": cfg.comparators("drift")})})
    assert drift.get_string_custom_property("not_compared") == "no model is served yet"
    gate.check_drift(drift.uri)
    with pytest.raises(gate.DriftFound, match="found no drift record"):
        gate.check_drift(str(tmp_path / "elsewhere"))
