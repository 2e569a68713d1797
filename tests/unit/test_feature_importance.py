"""Feature importance's plain logic: global and per-slice importance, grids, completeness, nDCG."""
import numpy as np
import pytest

from components.feature_importance import summary as S
from pipelines.shared import importance


def test_importance_is_mean_absolute_attribution_highest_first():
    attributions = np.array([[0.5, -0.1, 0.0], [-0.3, 0.1, 0.0]])
    assert importance.mean_absolute(attributions, ["a", "b", "c"]) == pytest.approx({"a": 0.4, "b": 0.1, "c": 0.0})
    assert list(importance.mean_absolute(attributions, ["a", "b", "c"])) == ["a", "b", "c"]
    assert importance.ranking({"x": 0.1, "y": 0.3, "z": 0.2}) == ["y", "z", "x"]
    assert importance.mean_absolute(np.zeros((0, 2)), ["a", "b"]) == {"a": 0.0, "b": 0.0}


def test_ndcg_is_one_for_the_same_order_and_falls_as_the_top_feature_drops():
    training = {"a": 0.5, "b": 0.3, "c": 0.1, "d": 0.05, "e": 0.01, "f": 0.0}
    assert importance.ndcg(training, dict(training)) == pytest.approx(1.0)
    swapped_tail = {**training, "d": 0.01, "e": 0.05}
    top_lost = {**training, "a": 0.0}
    assert 0.95 < importance.ndcg(training, swapped_tail) < 1.0
    assert importance.ndcg(training, top_lost) < 0.8 < importance.ndcg(training, swapped_tail)
    assert importance.ndcg({"a": 0.0}, {"a": 1.0}) == 1.0  # nothing matters: nothing can drift


def test_slices_keep_frequent_values_with_enough_rows():
    rows = 40
    attributions = np.zeros((rows, 2))
    attributions[:30, 0] = 1.0   # rows with hour=1 lean on a
    attributions[30:, 1] = 2.0   # rows with hour=2 lean on b
    hours = [1] * 30 + [2] * 5 + [None] * 5
    slices = S.by_slice(attributions, ["a", "b"], [["hour"]], {"hour": hours})
    assert [s["slice"] for s in slices] == ["hour=1"]  # hour=2 has 5 rows, fewer than MIN_SLICE_ROWS
    assert slices[0]["rows"] == 30 and slices[0]["importance"] == {"a": 1.0, "b": 0.0}
    two = S.by_slice(attributions, ["a", "b"], [["hour", "day"]], {"hour": hours, "day": ["x"] * rows})
    assert [s["slice"] for s in two] == ["hour=1, day=x"]


def test_grid_is_quantiles_for_numbers_and_frequent_values_for_categories():
    values = list(np.arange(101.0)) + [None, float("nan")]
    grid = S.grid(values, categorical=False, points=5)
    assert grid == [5.0, 27.0, 50.0, 72.0, 95.0]  # whole numbers stay whole
    assert S.grid([0.1, 0.2, 0.3, 0.4], categorical=False, points=2) == pytest.approx([0.115, 0.385])
    assert S.grid(["a", "b", "b", None, "c", "b", "a"], categorical=True, points=2) == ["b", "a"]
    assert S.grid([None], categorical=False, points=3) == []


def test_completeness_measures_the_gap_to_the_output_change():
    attributions = np.array([[0.2, 0.1], [0.0, -0.4]])
    outputs, baselines = np.array([0.8, 0.1]), np.array([0.5, 0.5])
    gaps = S.completeness(attributions, outputs, baselines)
    assert gaps == pytest.approx({"max_gap": 0.0, "mean_gap": 0.0, "largest_change": 0.4})
    gaps = S.completeness(attributions, outputs + np.array([0.1, 0.0]), baselines)
    assert gaps["max_gap"] == pytest.approx(0.1) and gaps["mean_gap"] == pytest.approx(0.05)


def test_summary_file_round_trips(tmp_path):
    attributions = np.array([[0.1, -0.3], [0.1, 0.1]])
    written = S.summary(["x", "y"], attributions, np.array([0.3, 0.7]), np.array([0.5, 0.5]), ["yes", "yes"], [], [],
                        "binary", rows_available=10)
    importance.write(written, str(tmp_path))
    read = importance.read(str(tmp_path))
    assert read["importance"] == pytest.approx({"y": 0.2, "x": 0.1}) and list(read["importance"]) == ["y", "x"]
    assert read["mean_attribution"] == pytest.approx({"x": 0.1, "y": -0.1})
    assert read["baseline_output"] == 0.5 and read["rows"] == 2 and read["rows_available"] == 10


def test_partial_dependence_sets_each_rows_value_and_averages_the_output():
    from tensorflow.core.example import example_pb2

    from components.feature_importance.component import partial_dependence

    def example(fare, company):
        e = example_pb2.Example()
        if fare is not None:
            e.features.feature["fare"].float_list.value.append(fare)
        e.features.feature["company"].bytes_list.value.append(company.encode())
        return e

    rows = [example(float(f), c) for f, c in zip(range(1, 21), ["A", "B"] * 10)] + [example(None, "A")]

    def evaluate(serialized):  # a model whose output is fare / 100, or 0.5 for company B
        outputs = []
        for s in serialized:
            e = example_pb2.Example.FromString(s)
            fare = e.features.feature["fare"].float_list.value
            outputs.append([0.5 if e.features.feature["company"].bytes_list.value[0] == b"B" else
                            (fare[0] / 100 if fare else 0.0)])
        return np.array(outputs)

    curve = partial_dependence(evaluate, rows, "fare", categorical=False, points=3)
    assert [p["value"] for p in curve["points"]] == [2.0, 10.0, 19.0]  # quantiles of the values present
    # Every row gets the value, the one without a fare too: 11 rows of company A answer value / 100.
    assert curve["points"][0]["mean_output"] == pytest.approx((11 * 0.02 + 10 * 0.5) / 21)
    by_company = partial_dependence(evaluate, rows, "company", categorical=True, points=5)
    assert {p["value"]: p["mean_output"] for p in by_company["points"]} == pytest.approx(
        {"A": np.mean([f / 100 for f in range(1, 21)] + [0.0]), "B": 0.5})
    assert partial_dependence(evaluate, rows, "absent", categorical=False, points=3) is None
