"""The run report's plain parts: SVG chart builders, the TFMA-name and threshold logic, and the page
rendered from a small Report (no TensorFlow, no browser; tests/e2e/test_run_report.py opens a real one)."""
import json
import math
import xml.etree.ElementTree as ET

import numpy as np

from pipelines.metadata.runs import ComponentRun, RunSummary
from pipelines.report import charts, content, page
from pipelines.report.data_views import FeatureView


def svg(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def rects(markup: str) -> list[dict]:
    return [r.attrib for r in svg(markup).iter("rect")]


def test_bars_scale_to_the_largest_value_and_skip_missing_ones():
    chart = charts.bars([("a", [0.5]), ("b", [1.0]), ("c", [float("nan")]), ("d", [None])])
    widths = [float(r["width"]) for r in rects(chart)]
    assert len(widths) == 2 and math.isclose(widths[1], 2 * widths[0], rel_tol=0.01)
    texts = [t.text for t in svg(chart).iter("text")]
    assert texts.count("n/a") == 2 and "0.5" in texts and "1" in texts


def test_negative_bars_are_drawn_left_of_zero():
    chart = charts.bars([("worse", [-0.2]), ("better", [0.2])])
    worse, better = rects(chart)
    zero = float(next(svg(chart).iter("line")).attrib["x1"])
    assert math.isclose(float(worse["x"]) + float(worse["width"]), zero, abs_tol=0.2)
    assert math.isclose(float(better["x"]), zero, abs_tol=0.2)


def test_empty_inputs_say_so():
    for chart in (charts.bars([]), charts.histogram([]), charts.histogram([("train", [(0, 1, 0)])]),
                  charts.timeline([])):
        assert not rects(chart) and "no " in "".join(svg(chart).itertext())


def test_histograms_compare_splits_of_different_sizes_as_fractions():
    train = [(0, 1, 100), (1, 2, 300)]
    eval_ = [(0, 1, 10), (1, 2, 30)]  # same shape, a tenth of the examples
    bars = [r for r in rects(charts.histogram([("train", train), ("eval", eval_)])) if r.get("fill-opacity") == "0.35"]
    heights = [float(r["height"]) for r in bars]
    assert heights[:2] == heights[2:] and heights[1] == 3 * heights[0]


def test_quantile_buckets_are_drawn_so_that_area_is_the_share_of_rows():
    # Two buckets of half the rows each, the second ten times wider: a tenth of the first's height.
    bars = [r for r in rects(charts.histogram([("train", [(0, 1, 50), (1, 11, 50)])])) if r.get("fill-opacity") == "0.35"]
    (w1, h1), (w2, h2) = [(float(r["width"]), float(r["height"])) for r in bars]
    assert math.isclose(w1 * h1, w2 * h2, rel_tol=0.02) and math.isclose(h1, 10 * h2, rel_tol=0.02)
    # Buckets repeating one value (a point mass) are merged into one bar.
    assert charts.merged([(0, 0, 10), (0, 0, 10), (0, 5, 20)]) == [(0, 0, 20), (0, 5, 20)]


def test_a_skewed_feature_gets_a_log_axis_and_a_labelled_one():
    skewed = [(0, 1, 10), (1, 2, 10), (2, 3, 10), (3, 5, 10), (5, 1000, 10)]
    chart = charts.histogram([("train", skewed)], x_label="fare")
    label = [t for t in svg(chart).itertext() if "bar area" in t][0]
    assert label.startswith("fare (log scale")
    bars = [r for r in rects(chart) if r.get("fill-opacity") == "0.35"]
    assert float(bars[0]["width"]) > 20  # the first bucket is visible, not squeezed by the tail
    even = charts.histogram([("train", [(0, 1, 10), (1, 2, 10)])], x_label="x")
    assert [t for t in svg(even).itertext() if "bar area" in t][0] == "x (bar area = share of rows)"


def test_curves_and_scatter_plots_draw_their_points():
    curve = charts.curve([("p", [(0, 0.1), (1, 0.5), (2, 0.4)])], x_label="hour", y_label="mean output")
    assert len(list(svg(curve).iter("circle"))) == 3 and "hour" in "".join(svg(curve).itertext())
    scatter = charts.scatter([(1, 1.5), (2, 2.1), (float("nan"), 3)], x_label="actual", y_label="predicted")
    assert len(list(svg(scatter).iter("circle"))) == 2
    assert charts.equal_width_buckets([0, 1, 2, 3], buckets=2) == [(0, 1.5, 2.0), (1.5, 3.0, 2.0)]


def test_per_class_precision_and_recall_come_from_the_confusion_matrix():
    from pipelines.metadata.evaluation import per_class_rates

    matrix = {(0, 0): 8, (0, 1): 2, (1, 1): 5, (1, 0): 0, (2, 1): 3}  # class 2 is never predicted
    rates = per_class_rates(matrix)
    assert rates[0] == {"precision": 1.0, "recall": 0.8, "examples": 10}
    assert rates[1]["precision"] == 0.5 and rates[1]["recall"] == 1.0
    assert math.isnan(rates[2]["precision"]) and rates[2]["recall"] == 0.0


def test_each_column_is_marked_feature_label_or_left_out_with_inits_reason(tmp_path):
    from pipelines.config import features_config_from_json

    config = tmp_path / "c.yaml"
    config.write_text("features:\n  - {name: a, kind: numeric}\n  # left out id: an identifier (unique per row)\n")
    features = features_config_from_json(json.dumps({
        "label": {"kind": "classes", "name": "y", "column": "target", "classes": ["x", "z"]},
        "features": [{"name": "a", "kind": "numeric"}]}))
    roles = content.column_roles(["a", "target", "id", "other"], features, str(config))
    assert roles == {"a": "feature (numeric)", "target": "label: y is computed from it",
                     "id": "left out: an identifier (unique per row)", "other": "left out: not among the config's features"}


def test_timeline_places_steps_by_start_time():
    chart = charts.timeline([("A", "complete", 100.0, 10.0), ("B", "failed", 110.0, 10.0)])
    a, b = rects(chart)
    assert float(b["x"]) > float(a["x"]) and a["fill"] != b["fill"]


def test_tfma_metric_names():
    assert [content.metric_name(c) for c in ("BinaryAccuracy", "AUC", "AUCPrecisionRecall", "ExampleCount")] == [
        "binary_accuracy", "auc", "auc_precision_recall", "example_count"]


def test_verdicts_come_from_the_runs_eval_config_and_tfmas_failures(tmp_path):
    from tensorflow_model_analysis.proto import validation_result_pb2
    from test_metadata_logic import write_tfrecords  # tests/unit is on sys.path (pytest prepend import mode)

    config = {"evalConfig": {"metricsSpecs": [{"metrics": [
        {"className": "ExampleCount"},
        {"className": "BinaryAccuracy", "perSliceThresholds": [{"slicingSpecs": [{}], "threshold": {
            "valueThreshold": {"lowerBound": 0.6},
            "changeThreshold": {"direction": "HIGHER_IS_BETTER", "absolute": -0.01}}}]}]}]}}
    (tmp_path / "eval_config.json").write_text(json.dumps(config))
    validation = validation_result_pb2.ValidationResult(validation_ok=False)
    failure = validation.metric_validations_per_slice.add().failures.add()
    failure.metric_key.name, failure.metric_key.is_diff = "binary_accuracy", True
    failure.metric_value.double_value.value = -0.05
    write_tfrecords(tmp_path / "validations.tfrecord", [validation.SerializeToString()])
    metrics = {"overall": {"binary_accuracy": {"candidate": 0.7, "baseline": 0.75, "change": -0.05}}}

    found = content.verdicts(str(tmp_path), metrics)
    assert [(v.metric, v.kind, v.value, v.met) for v in found] == [
        ("binary_accuracy", "value", 0.7, True), ("binary_accuracy", "change", -0.05, False)]
    assert found[0].requirement == "needs >= 0.6"
    assert found[1].requirement == "change against the baseline needs >= -0.01"


def small_report() -> content.Report:
    summary = RunSummary("taxi", "run-1", [ComponentRun("CsvExampleGen", "complete", 2.0, started=100.0),
                                           ComponentRun("Evaluator", "complete", 5.0, started=103.0)],
                         blessed=False, infra_blessed=True, infra_platform="local_process", outcome="not blessed")
    feature = FeatureView("<fare>", "numeric", examples={"train": 4, "eval": 2}, missing={"train": 0.25, "eval": 0.0},
                          histogram={"train": [(0, 1, 3)], "eval": [(0, 1, 2)]}, anomalies=["train: out of range"])
    return content.Report(summary, "configs/taxi.yaml", "sha256:abc", features=[feature], metrics={
        "overall": {"auc": {"candidate": 0.8, "baseline": float("nan"), "change": 0.1},
                    "false_positive_rate@0.5": {"candidate": 0.1}, "false_negative_rate@0.5": {"candidate": 0.3}},
        "hour=3": {"auc": {"candidate": 0.6}, "false_positive_rate@0.5": {"candidate": 0.25},
                   "false_negative_rate@0.5": {"candidate": float("nan")}}},
        verdicts=[content.Verdict("auc", "overall", "value", "needs >= 0.9", 0.8, False)])


def test_the_page_is_self_contained_and_shows_each_section():
    html = page.render(small_report())
    root = ET.fromstring(html.split("\n", 1)[1])  # well-formed: parses as XML
    sections = [s.attrib["id"] for s in root.iter("section")]
    assert sections == ["run", "timeline", "data", "model", "explanations", "fairness", "infra", "lineage"]
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert "&lt;fare&gt;" in html  # names are escaped
    cells = {(e.attrib["data-metric"], e.attrib["data-slice"], e.attrib["data-model"]): e.text
             for e in root.iter() if "data-metric" in e.attrib}
    assert cells[("auc", "overall", "candidate")] == "0.8" and cells[("auc", "overall", "baseline")] == "n/a"
    assert cells[("auc", "hour=3", "change")] == "n/a"
    verdict = next(e for e in root.iter() if e.attrib.get("data-verdict") == "auc:value")
    assert verdict.text == "FAILED"
    anomalous = [e for e in root.iter("div") if "anomalous" in e.attrib.get("class", "")]
    assert [e.attrib["data-feature"] for e in anomalous] == ["<fare>"]


def test_the_explanations_show_the_recorded_importance_slices_and_curves():
    from components.feature_importance import summary as S

    report = small_report()
    report.roles = {"<fare>": "left out: an identifier"}
    report.importance = S.summary(
        ["fare", "company"], np.array([[0.3, -0.1], [-0.1, 0.05]]), np.array([0.7, 0.45]), np.array([0.5, 0.5]),
        ["big_tipper"] * 2,
        [{"slice": "hour=3", "rows": 12, "importance": {"fare": 0.5, "company": 0.0}}],
        [{"feature": "fare", "categorical": False, "points": [{"value": 1.0, "mean_output": 0.2},
                                                              {"value": 9.0, "mean_output": 0.6}]},
         {"feature": "company", "categorical": True, "points": [{"value": "A", "mean_output": 0.4}]}],
        "binary", rows_available=100)
    root = ET.fromstring(page.render(report).split("\n", 1)[1])
    section = root.find(".//section[@id='explanations']")
    text = "".join(section.itertext())
    assert "probability of big_tipper" in text and "on 2 rows of the eval split (of 100)" in text
    shown = {e.attrib["data-importance"]: e for e in section.iter() if "data-importance" in e.attrib}
    assert list(shown) == ["fare", "company"]  # ranked
    rows = [["".join(td.itertext()) for td in tr.findall("td")] for tr in section.iter("tr") if tr.findall("td")]
    assert ["fare", "0.2", "+0.1"] in rows and ["hour=3", "12", "0.5", "0"] in rows
    assert [e.attrib["data-dependence"] for e in section.iter() if "data-dependence" in e.attrib] == ["fare", "company"]
    role = next(e for e in root.iter() if "data-role" in e.attrib)
    assert role.attrib["data-role"] == "left-out" and role.text == "left out: an identifier"


def test_the_fairness_view_compares_each_slice_value_with_the_overall_rates():
    html = page.render(small_report())
    fairness = ET.fromstring(html.split("\n", 1)[1]).find(".//section[@id='fairness']")
    assert fairness.find("h3").text == "hour, decision threshold 0.5"
    rows = [["".join(td.itertext()) for td in tr.findall("td")] for tr in fairness.iter("tr") if tr.findall("td")]
    assert rows == [["overall", "0.1", "0.3", "+0.000", "+0.000"], ["3", "0.25", "n/a", "+0.150", "n/a"]]


def test_settings_are_compared_leaf_by_leaf_inside_tfxs_json_properties():
    from pipelines.report.compare import Comparison, RunSide, flatten

    nested = json.dumps({"config": json.dumps({"model": {"hidden_units": [64, 32], "learning_rate": 0.001}})})
    assert flatten(nested, "Trainer: custom_config") == {
        "Trainer: custom_config.config.model.hidden_units": "[64, 32]",
        "Trainer: custom_config.config.model.learning_rate": "0.001"}
    a = RunSide("a", "pushed", settings={"T: x": "1", "T: same": "s"}, metrics={"overall": {"auc": 0.8}},
                nodes={"T", "Gen"})
    b = RunSide("b", "not blessed", settings={"T: x": "2", "T: same": "s", "T: new": "n"},
                metrics={"overall": {"auc": 0.7, "loss": 1.0}}, nodes={"T", "Gen"})
    comparison = Comparison(a, b)
    assert comparison.changed_settings == [("T: new", None, "n"), ("T: x", "1", "2")]
    b.settings["Gen: fingerprint"], b.cached = "f", {"Gen"}  # A's Gen came from cache and did not record it
    a.cached = {"Gen"}
    assert [k for k, _, _ in comparison.changed_settings] == ["T: new", "T: x"]
    # A component only one run had is named once; its settings are no differences.
    b.nodes.add("Tuner")
    b.settings.update({f"Tuner: setting{i}": str(i) for i in range(50)})
    assert [k for k, _, _ in comparison.changed_settings] == ["T: new", "T: x"]
    assert comparison.only_in_one == ([], ["Tuner"])
    assert comparison.metric_rows() == [("overall", "auc", 0.8, 0.7), ("overall", "loss", None, 1.0)]
    a.reference, b.reference = {"auc": 0.9}, {"auc": 0.91}
    assert comparison.metric_rows()[-1] == ("reference model (overall)", "auc", 0.9, 0.91)


def test_lineage_is_drawn_top_down_by_depth():
    nodes = [("e1", "ExampleGen #1", "execution"), ("a1", "Examples 1", "artifact"), ("e2", "Trainer #2", "execution"),
             ("a2", "Schema 2", "artifact"), ("a3", "Model 3", "artifact")]
    edges = [("e1", "a1"), ("a1", "e2"), ("a2", "e2"), ("e2", "a3")]
    assert charts.layers([k for k, _, _ in nodes], edges) == {"e1": 0, "a1": 1, "e2": 2, "a2": 0, "a3": 3}
    drawn = svg(charts.graph(nodes, edges))
    y = {g.attrib["data-node"]: float(g.find("rect").attrib["y"]) for g in drawn.iter("g")}
    assert y["e1"] == y["a2"] < y["a1"] < y["e2"] < y["a3"]
    assert len(list(drawn.iter("line"))) == len(edges)
