"""The TFMA config built from the evaluation section."""
import json

import tensorflow_model_analysis as tfma

from components.evaluator import extractors
from pipelines.assembly import eval_config as assembled_eval_config
from pipelines.config import load_config


def eval_config(cfg) -> tfma.EvalConfig:
    """The eval config with each metric as the TFMA class it computes (batched or not: the same metric)."""
    config = assembled_eval_config(cfg)
    for spec in config.metrics_specs:
        for metric in spec.metrics:
            if metric.module == "components.evaluator.metrics":
                wrapped = json.loads(metric.config)
                metric.class_name, metric.module = wrapped["metric"], ""
                metric.config = json.dumps(wrapped["config"]) if wrapped["config"] else ""
    return config


def test_eval_config_from_taxi(project):
    cfg = load_config(project / "configs" / "taxi.yaml")
    config = eval_config(cfg)
    spec = config.model_specs[0]
    assert spec.label_key == "big_tipper"
    assert list(spec.preprocessing_function_names) == ["transform_features"]
    assert [list(s.feature_keys) for s in config.slicing_specs] == [[], ["trip_start_hour"], ["payment_type"]]

    metrics = {m.class_name: m for m in config.metrics_specs[0].metrics}
    assert set(metrics) == {"ExampleCount", "BinaryAccuracy", "AUC", "FallOut", "MissRate",
                            "ConfusionMatrixAtThresholds", "CalibrationPlot"}
    thresholds = metrics["BinaryAccuracy"].per_slice_thresholds
    assert len(thresholds) == 1
    assert thresholds[0].slicing_specs[0] == tfma.SlicingSpec()  # judged on the overall slice
    threshold = thresholds[0].threshold
    assert threshold.value_threshold.lower_bound.value == 0.6
    assert threshold.change_threshold.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    assert threshold.change_threshold.absolute.value == -0.01
    assert not metrics["AUC"].per_slice_thresholds
    assert json.loads(metrics["AUC"].config) == {"num_thresholds": 200}  # Keras's AUC default, not TFMA's 10000
    assert not metrics["BinaryAccuracy"].config
    assert config.options.include_default_metrics.value is False  # no compiled Keras metrics: fewer model loads


def test_curve_thresholds_reach_tfma(project):
    from tensorflow_model_analysis.metrics.metric_specs import metric_instance

    cfg = load_config(project / "configs" / "taxi.yaml", ["evaluation.curve_thresholds=1000", "evaluation.thresholds=[]",
                                                          "evaluation.metrics=[AUC, AUCPrecisionRecall]",
                                                          "evaluation.fairness_thresholds=[]"])
    metrics = [m for m in eval_config(cfg).metrics_specs[0].metrics if m.class_name.startswith("AUC")]
    assert [metric_instance(m).get_config()["num_thresholds"] for m in metrics] == [1000, 1000]  # what TFMA builds


def test_upper_bound_and_lower_is_better(project):
    cfg = load_config(project / "configs" / "taxi.yaml", [
        "evaluation.thresholds=[{metric: AUC, upper_bound: 0.99, change: {direction: lower_is_better, absolute: 0.1}}]"])
    metric = next(m for m in eval_config(cfg).metrics_specs[0].metrics if m.class_name == "AUC")
    threshold = metric.per_slice_thresholds[0].threshold
    assert threshold.value_threshold.upper_bound.value == 0.99
    assert not threshold.value_threshold.HasField("lower_bound")
    assert threshold.change_threshold.direction == tfma.MetricDirection.LOWER_IS_BETTER


def test_fairness_rates_per_threshold_for_binary_labels_only(project):
    from tensorflow_model_analysis.metrics.metric_specs import metric_instance

    cfg = load_config(project / "configs" / "taxi.yaml", ["evaluation.fairness_thresholds=[0.3, 0.5]"])
    fairness = [m for m in eval_config(cfg).metrics_specs[0].metrics if m.class_name in ("FallOut", "MissRate")]
    assert [metric_instance(m).name for m in fairness] == [
        "false_positive_rate@0.3", "false_negative_rate@0.3", "false_positive_rate@0.5", "false_negative_rate@0.5"]
    assert [json.loads(m.config)["thresholds"] for m in fairness] == [[0.3], [0.3], [0.5], [0.5]]
    matrices = [m for m in eval_config(cfg).metrics_specs[0].metrics if m.class_name == "ConfusionMatrixAtThresholds"]
    assert [json.loads(m.config)["thresholds"] for m in matrices] == [[0.3, 0.5]]
    none = load_config(project / "configs" / "taxi.yaml", ["evaluation.fairness_thresholds=[]"])
    assert not [m for m in eval_config(none).metrics_specs[0].metrics if m.class_name in ("FallOut", "MissRate")]
    # The matrix at 0.5 stays: it tells which slices hold one class, where AUC is undefined.
    assert [json.loads(m.config)["thresholds"] for m in eval_config(none).metrics_specs[0].metrics
            if m.class_name == "ConfusionMatrixAtThresholds"] == [[0.5]]
    penguin = load_config(project / "configs" / "penguin.yaml")  # three classes: no binary error rates
    assert not [m for m in eval_config(penguin).metrics_specs[0].metrics if m.class_name in ("FallOut", "MissRate")]


def test_the_reports_extras_share_the_per_example_work_of_accuracy_and_auc(project):
    """Fairness rates and the confusion matrix at 0.5 reuse BinaryAccuracy's confusion matrices, the
    calibration plot reuses AUC's histogram: TFMA computes each per-example combiner once by name (batched
    too: the wrapped computations keep TFMA's keys)."""
    from tensorflow_model_analysis.metrics import metric_specs

    config = assembled_eval_config(load_config(project / "configs" / "taxi.yaml"))
    names = {key.name for c in metric_specs.to_computations(config.metrics_specs, config) for key in c.keys}
    per_example = sorted(n.split(":")[0] for n in names if n.startswith("_"))
    assert per_example == ["_binary_confusion_matrices", "_binary_confusion_matrices", "_calibration_histogram"]
    assert {n for n in names if n.startswith("_binary")} == {"_binary_confusion_matrices:num_thresholds=200",
                                                            "_binary_confusion_matrices:thresholds=[0.5]"}


def test_tfma_metric_classes_are_batched_and_keras_ones_are_not(project):
    """A config with a Keras metric class, or evaluation.batched false, stays on TFMA's per-example path;
    the Evaluator's module path (TFX calls its custom_extractors) is there in every case: the extractors it
    gives replace the per-example ones only for batched metrics."""
    from tensorflow_model_analysis.metrics.metric_specs import metric_instance

    from pipelines.assembly import create_pipeline

    taxi = load_config(project / "configs" / "taxi.yaml")
    config = assembled_eval_config(taxi)
    assert extractors.is_batched(config)
    wrapped = config.metrics_specs[0].metrics
    assert {m.class_name for m in wrapped} == {"Batched"}
    # The name readers of eval_config.json look for, and the one TFMA gives the metric.
    assert [json.loads(m.config)["name"] for m in wrapped] == [metric_instance(m).name for m in wrapped]
    assert "false_positive_rate@0.5" in [metric_instance(m).name for m in wrapped]
    evaluator = next(c for c in create_pipeline(taxi).components if c.id == "Evaluator")
    assert evaluator.exec_properties["module_path"] == "components.evaluator.extractors"

    for cfg in (load_config(project / "configs" / "taxi.yaml", ["evaluation.batched=false"]),
                load_config(project / "configs" / "penguin.yaml")):  # SparseCategoricalAccuracy: a Keras metric
        assert not extractors.is_batched(assembled_eval_config(cfg))
        assert "Batched" not in {m.class_name for m in assembled_eval_config(cfg).metrics_specs[0].metrics}
        evaluator = next(c for c in create_pipeline(cfg).components if c.id == "Evaluator")
        assert evaluator.exec_properties["module_path"] == "components.evaluator.extractors"
