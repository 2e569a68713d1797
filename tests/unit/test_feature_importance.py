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
