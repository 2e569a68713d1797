"""Bad data stops the run at the data gate, before Transform: exit 1, anomalies listed, nothing pushed."""
from helpers import make_config, mlops, small_csv, summary_of, versions


def out_of_domain_payment(header, lines):
    column = header.split(",").index("payment_type")
    cells = lines[0].split(",")
    cells[column] = "Bitcoin"
    return header, [",".join(cells), *lines[1:]]


def drop_column(name):
    def edit(header, lines):
        column = header.split(",").index(name)
        drop = lambda line: ",".join(c for i, c in enumerate(line.split(",")) if i != column)  # noqa: E731
        return drop(header), [drop(line) for line in lines]
    return edit


def hour_out_of_range(header, lines):
    column = header.split(",").index("trip_start_hour")
    cells = lines[2].split(",")
    cells[column] = "30"
    return header, [*lines[:2], ",".join(cells), *lines[3:]]


def word_in_fare(header, lines):
    column = header.split(",").index("fare")
    cells = lines[5].split(",")
    cells[column] = "twelve"
    return header, [*lines[:5], ",".join(cells), *lines[6:]]


def all_of(*edits):
    def edit(header, lines):
        for one in edits:
            header, lines = one(header, lines)
        return header, lines
    return edit


# Three kinds of bad data in one file (one run): each must be named. The taxi CSV has commas inside
# quoted company names: the edits use early rows without them.
BAD_FEATURES = ["payment_type", "trip_start_hour", "fare"]


def test_bad_data_stops_before_transform_and_names_each_anomaly(tmp_path):
    edit = all_of(out_of_domain_payment, word_in_fare, hour_out_of_range)
    csv_path = small_csv("taxi", tmp_path / "data", rows=400, edit=edit)
    config = make_config("taxi", tmp_path, csv_path.parent, model__train_steps=5)
    result = mlops("run", config)

    assert result.returncode == 1, result.stdout + result.stderr[-3000:]
    assert "Stopped: the data gate found anomalies; nothing was trained or pushed" in result.stdout
    for feature in BAD_FEATURES:  # an out-of-domain category, an out-of-range hour, a word in a numeric column
        assert any(f"] {feature}:" in line for line in result.stdout.splitlines()), (feature, result.stdout)

    summary = summary_of(config)
    states = {c.node: c.state for c in summary.components}
    assert states["ExampleValidator"] == "complete" and states["DataGate"] == "failed"
    assert "Transform" not in states and "Trainer" not in states and "Pusher" not in states
    assert summary.outcome == "gated"
    assert set(BAD_FEATURES) <= {a.feature for a in summary.anomalies}
    assert versions(tmp_path / "out" / "serving_model") == []


def test_a_missing_column_is_refused_before_anything_runs(tmp_path):
    csv_path = small_csv("taxi", tmp_path / "data", rows=50, edit=drop_column("trip_start_hour"))
    result = mlops("run", make_config("taxi", tmp_path, csv_path.parent))
    assert result.returncode == 2, result.stdout + result.stderr[-3000:]
    assert "trip_start_hour' is not a column" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_dataset_with_no_rows_stops_at_the_gate(tmp_path):
    csv_path = small_csv("taxi", tmp_path / "data", rows=0)  # the header alone
    config = make_config("taxi", tmp_path, csv_path.parent, model__train_steps=5)
    result = mlops("run", config)
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]
    assert "Stopped: the data gate found anomalies; nothing was trained or pushed" in result.stdout
    assert "[train] (dataset): no examples" in result.stdout and "[eval] (dataset): no examples" in result.stdout
    states = {c.node: c.state for c in summary_of(config).components}
    assert states["DataGate"] == "failed" and "Trainer" not in states


def non_finite_numbers(header, lines):
    """One fare of `inf`, and a trip of 1e300 miles (beyond float32: read as infinity)."""
    columns = header.split(",")
    fare, miles = columns.index("fare"), columns.index("trip_miles")
    first, second = lines[3].split(","), lines[4].split(",")
    first[fare], second[miles] = "inf", "1e300"
    return header, [*lines[:3], ",".join(first), ",".join(second), *lines[5:]]


def test_non_finite_numbers_are_stopped_at_the_gate_naming_each_column(tmp_path):
    csv_path = small_csv("taxi", tmp_path / "data", rows=400, edit=non_finite_numbers)
    config = make_config("taxi", tmp_path, csv_path.parent, model__train_steps=5)
    result = mlops("run", config)
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]
    assert "Stopped: the data gate found anomalies; nothing was trained or pushed" in result.stdout
    flagged = {a.feature: a.description for a in summary_of(config).anomalies}
    assert "Inf values" in flagged["fare"] and "Inf values" in flagged["trip_miles"], flagged
    assert versions(tmp_path / "out" / "serving_model") == []
