"""Config validation: every kind of mistake gets a message naming the file and the field."""
import subprocess
import sys
import textwrap

import pytest

from pipelines.config import ConfigError, load_config


def write(tmp_path, text, name="cfg.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


MINIMAL = """
name: demo
output_root: out
data: {path: data}
label: {kind: binary_threshold, name: big, column: tips, greater_than: 0.2, relative_to: fare}
features:
  - {name: fare, kind: numeric}
  - {name: payment_type, kind: string_categorical}
evaluation:
  metrics: [BinaryAccuracy]
  thresholds: [{metric: BinaryAccuracy, lower_bound: 0.5}]
"""


def error_of(tmp_path, text, overrides=None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), overrides)
    return str(info.value)


def test_the_shipped_configs_are_valid(project):
    for name in ("taxi", "penguin"):
        cfg = load_config(project / "configs" / f"{name}.yaml")
        assert cfg.name == name
        assert cfg.schema_path == str(project / "schemas" / name / "schema.pbtxt")


def test_the_taxi_data_is_found_inside_the_installed_tfx_wheel(project):
    cfg = load_config(project / "configs" / "taxi.yaml")
    assert cfg.data_dir.endswith("tfx/examples/chicago_taxi_pipeline/data/simple")
    assert (__import__("pathlib").Path(cfg.data_dir) / "data.csv").stat().st_size > 1_000_000


def test_relative_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    cfg = load_config(write(tmp_path, MINIMAL))
    assert cfg.output_dir == str(tmp_path / "out")
    assert cfg.data_dir == str(tmp_path / "data")
    assert cfg.serving_dir == str(tmp_path / "out" / "serving_model")
    assert cfg.sqlite_path == str(tmp_path / "out" / "metadata.sqlite")
    assert cfg.schema_path is None  # no schemas/demo/schema.pbtxt beside it: SchemaGen infers one


def test_unknown_field_names_its_path(tmp_path):
    message = error_of(tmp_path, MINIMAL + "model: {hiden_units: [8]}\n")
    assert str(tmp_path / "cfg.yaml") in message
    assert "model.hiden_units: unknown field" in message


def test_wrong_choice_says_what_is_allowed(tmp_path):
    text = MINIMAL.replace("{name: fare, kind: numeric}", "{name: fare, kind: numeric, scaling: zscore}")
    message = error_of(tmp_path, text)
    assert "features[0].scaling: Input should be 'z_score' or 'min_max' (got 'zscore')" in message


def test_unknown_feature_kind_lists_the_kinds(tmp_path):
    message = error_of(tmp_path, MINIMAL.replace("kind: string_categorical", "kind: text"))
    assert "features[1]" in message
    assert "'numeric', 'bucketized', 'string_categorical', 'int_categorical'" in message


def test_missing_required_field(tmp_path):
    message = error_of(tmp_path, MINIMAL.replace("data: {path: data}\n", ""))
    assert "data: required field is missing" in message


def test_out_of_range_number(tmp_path):
    message = error_of(tmp_path, MINIMAL + "model: {batch_size: 0}\n")
    assert "model.batch_size: Input should be greater than or equal to 1 (got 0)" in message


def test_threshold_on_a_metric_that_is_not_computed(tmp_path):
    message = error_of(tmp_path, MINIMAL.replace("metric: BinaryAccuracy,", "metric: AUC,"))
    assert "thresholds[0].metric 'AUC' is not in metrics ['BinaryAccuracy']" in message


def test_slice_on_an_unknown_feature(tmp_path):
    message = error_of(tmp_path, MINIMAL.replace("  metrics: [BinaryAccuracy]",
                                                 "  metrics: [BinaryAccuracy]\n  slices: [[hour]]"))
    assert "evaluation.slices[0] names unknown features ['hour']" in message


def test_duplicate_features_and_label_clash(tmp_path):
    duplicated = MINIMAL.replace("{name: payment_type, kind: string_categorical}", "{name: fare, kind: numeric}")
    assert "repeated: ['fare']" in error_of(tmp_path, duplicated)
    clash = MINIMAL.replace("name: big,", "name: fare,")
    assert "label.name 'fare' is also a feature name" in error_of(tmp_path, clash)


def test_int_range_must_be_ordered(tmp_path):
    text = MINIMAL.replace("{name: fare, kind: numeric}", "{name: hour, kind: int_categorical, min: 23, max: 0}")
    assert "max (0) must be >= min (23)" in error_of(tmp_path, text)


def test_pipeline_name_must_suit_kubeflow(tmp_path):
    assert "name: String should match pattern" in error_of(tmp_path, MINIMAL.replace("name: demo", "name: Demo Pipeline"))


def test_yaml_syntax_error_and_missing_file(tmp_path):
    assert "not valid YAML" in error_of(tmp_path, "name: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_overrides_set_typed_values_and_list_items(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL), ["model.train_steps=50", "features.0.scaling=min_max",
                                                  "model.hidden_units=[8, 4]", "tuning.enabled=true"])
    assert cfg.model.train_steps == 50
    assert cfg.features[0].scaling == "min_max"
    assert cfg.model.hidden_units == [8, 4]
    assert cfg.tuning.enabled is True


def test_bad_overrides_name_the_key(tmp_path):
    assert "expected key.path=value" in error_of(tmp_path, MINIMAL, ["model.train_steps"])
    assert "features.7 is not an index of a list of 2" in error_of(tmp_path, MINIMAL, ["features.7.scaling=x"])
    assert "model.tran_steps: unknown field" in error_of(tmp_path, MINIMAL, ["model.tran_steps=5"])


def test_components_get_only_their_part_of_the_config(project):
    from pipelines.config import features_config_from_json, training_config_from_json

    cfg = load_config(project / "configs" / "taxi.yaml")
    features = features_config_from_json(cfg.features_json())
    assert features.features == cfg.features and features.label == cfg.label
    training = training_config_from_json(cfg.training_json())
    assert training.model == cfg.model and training.tuning is None
    assert training_config_from_json(cfg.training_json(with_tuning=True)).tuning == cfg.tuning
    # A change outside a component's part leaves what it receives (and so its cache key) alone.
    changed = load_config(project / "configs" / "taxi.yaml", ["evaluation.thresholds.0.lower_bound=0.9",
                                                             "tuning.max_trials=9"])
    assert changed.features_json() == cfg.features_json()
    assert changed.training_json() == cfg.training_json()
    changed = load_config(project / "configs" / "taxi.yaml", ["model.train_steps=7"])
    assert changed.features_json() == cfg.features_json() and changed.training_json() != cfg.training_json()


def test_validate_command_exits_2_without_importing_tensorflow(tmp_path):
    bad = write(tmp_path, MINIMAL + "model: {learning_rate: -1}\n")
    code = ("import sys; from pipelines import cli; rc = cli.main(['validate', sys.argv[1]]); "
            "assert 'tensorflow' not in sys.modules, 'validate imported TensorFlow'; sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code, str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"error: {bad}: invalid config" in result.stderr
    assert "model.learning_rate: Input should be greater than 0 (got -1)" in result.stderr

    good = write(tmp_path, MINIMAL, "good.yaml")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("fare,payment_type,tips\n1,Cash,0\n")  # validate reads the header
    result = subprocess.run([sys.executable, "-c", code, str(good)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert '"label": "big"' in result.stdout


# --- labels and the metrics that fit them ---------------------------------------


def test_metrics_default_to_what_fits_the_label(tmp_path):
    no_metrics = MINIMAL.split("evaluation:")[0]
    assert load_config(write(tmp_path, no_metrics)).evaluation.metrics == ["ExampleCount", "BinaryAccuracy", "AUC"]
    regression = no_metrics.replace("{kind: binary_threshold, name: big, column: tips, greater_than: 0.2, relative_to: fare}",
                                    "{kind: regression, name: tip, column: tips}")
    assert load_config(write(tmp_path, regression)).evaluation.metrics == [
        "ExampleCount", "MeanSquaredError", "MeanAbsoluteError"]
    three = no_metrics.replace("{kind: binary_threshold, name: big, column: tips, greater_than: 0.2, relative_to: fare}",
                               "{kind: classes, name: c, column: tips, classes: [0, 1, 2]}")
    cfg = load_config(write(tmp_path, three))
    assert cfg.evaluation.metrics == ["ExampleCount", "SparseCategoricalAccuracy"] and cfg.label.classes == [0, 1, 2]


def test_a_sparse_categorical_metric_on_a_two_class_label_is_refused(tmp_path):
    two = MINIMAL.replace("{kind: binary_threshold, name: big, column: tips, greater_than: 0.2, relative_to: fare}",
                          "{kind: classes, name: c, column: tips, classes: [yes, no]}").replace(
        "BinaryAccuracy", "SparseCategoricalAccuracy")
    message = error_of(tmp_path, two)
    assert "evaluation.metrics[0]: 'SparseCategoricalAccuracy' does not fit a binary label (classes)" in message
    assert "metrics that fit: ExampleCount, BinaryAccuracy, AUC" in message


def test_classification_metrics_on_a_regression_label_and_unknown_names_are_refused(tmp_path):
    regression = MINIMAL.replace(
        "{kind: binary_threshold, name: big, column: tips, greater_than: 0.2, relative_to: fare}",
        "{kind: regression, name: tip, column: tips}")
    assert "'BinaryAccuracy' does not fit a regression label" in error_of(tmp_path, regression)
    misspelt = MINIMAL.replace("metrics: [BinaryAccuracy]", "metrics: [BinaryAccuracy, AUROC]")
    message = error_of(tmp_path, misspelt)
    assert "evaluation.metrics[1]: 'AUROC' is not a known metric; metrics that fit: ExampleCount, BinaryAccuracy" in message


def test_every_listed_metric_is_one_tfma_computes():
    import tf_keras
    from tensorflow_model_analysis.metrics import metric_types

    from pipelines.config import FITTING_METRICS

    tfma_metrics = metric_types.registered_metrics()
    for names in FITTING_METRICS.values():
        for name in names:
            assert name in tfma_metrics or hasattr(tf_keras.metrics, name), name


def test_bounds_in_the_wrong_order_label_column_as_feature_and_repeated_classes(tmp_path):
    crossed = MINIMAL.replace("lower_bound: 0.5}", "lower_bound: 0.9, upper_bound: 0.5}")
    assert "lower_bound (0.9) is above upper_bound (0.5)" in error_of(tmp_path, crossed)
    leak = MINIMAL.replace("{name: fare, kind: numeric}", "{name: fare, kind: numeric}\n  - {name: tips, kind: numeric}")
    assert "label.column 'tips' is also a feature: the model would be given its own answer" in error_of(tmp_path, leak)
    repeated = MINIMAL.replace(
        "{kind: binary_threshold, name: big, column: tips, greater_than: 0.2, relative_to: fare}",
        "{kind: classes, name: c, column: tips, classes: [a, b, a]}").replace("BinaryAccuracy", "ExampleCount")
    assert "label.classes: Value error, each class once; repeated: ['a']" in error_of(tmp_path, repeated)


# --- the data's header ---------------------------------------------------------------


def test_columns_the_config_names_must_be_in_every_csv_header(tmp_path):
    from pipelines.config import check_data_columns

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("fare,payment_type,tips\n1,Cash,0\n")
    cfg = load_config(write(tmp_path, MINIMAL))
    assert check_data_columns(cfg) == ["fare", "payment_type", "tips"]

    (tmp_path / "data" / "b.csv").write_text("fare,payment,tip\n1,Cash,0\n")
    with pytest.raises(ConfigError) as info:
        check_data_columns(cfg)
    message = str(info.value)
    assert f"{tmp_path / 'cfg.yaml'}: the config names columns that {tmp_path / 'data' / 'b.csv'} does not have" in message
    assert "features[1].name: 'payment_type' is not a column" in message
    assert "label.column: 'tips' is not a column" in message and "columns found: fare, payment, tip" in message

    with pytest.raises(ConfigError, match="data: no file matches"):
        check_data_columns(load_config(write(tmp_path, MINIMAL), ["data.path=missing"]))


def test_validate_and_run_refuse_a_misspelt_column_with_exit_2(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("fare,payment_type,tip\n1,Cash,0\n")
    path = write(tmp_path, MINIMAL)
    for command in ("validate", "run"):
        result = subprocess.run([sys.executable, "-m", "pipelines.cli", command, str(path)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stderr
        assert "label.column: 'tips' is not a column" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # nothing ran


# --- input that used to reach a traceback or pass unnoticed --------------------------------


def test_unreadable_config_files_and_values_are_config_errors(tmp_path):
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(MINIMAL.replace("demo", "d\xe9mo").encode("latin-1"))
    with pytest.raises(ConfigError, match="latin.yaml: not a UTF-8 text file"):
        load_config(latin)
    assert "--set 'model.train_steps=[1': the value is not valid YAML" in error_of(
        tmp_path, MINIMAL, ["model.train_steps=[1"])
    twice = MINIMAL + "model: {batch_size: 8}\nmodel: {batch_size: 16}\n"
    assert "the key 'model' is given twice in this mapping" in error_of(tmp_path, twice)


def test_cron_fields_hidden_units_and_search_values_are_checked(tmp_path):
    kubeflow = MINIMAL + ("kubeflow: {image: i, pipeline_root: 'gs://b/r', data_path: /d, serving_dir: 'gs://b/s', "
                          "schedule: {cron: 'a b c d e f'}}\n")
    assert "the seconds field 'a' is not a cron field" in error_of(tmp_path, kubeflow)
    assert "the hours field '25' is not a cron field" in error_of(tmp_path, kubeflow.replace("a b c d e f", "0 0 25 * * *"))
    assert load_config(write(tmp_path, kubeflow.replace("a b c d e f", "0 */15 8-18 ? JAN,JUL MON-FRI")))
    message = error_of(tmp_path, MINIMAL + "model: {hidden_units: [8, -4]}\n"
                                           "tuning: {search_space: {hidden_units: [[0]], learning_rate: [-0.1]}}\n")
    assert "model.hidden_units[1]: Input should be greater than 0 (got -4)" in message
    assert "tuning.search_space.hidden_units[0][0]: Input should be greater than 0 (got 0)" in message
    assert "tuning.search_space.learning_rate[0]: Input should be greater than 0 (got -0.1)" in message


def test_serving_and_batch_inference_mistakes_name_the_field(tmp_path):
    assert "batch_inference.format: Input should be 'csv' or 'parquet'" in error_of(
        tmp_path, MINIMAL + "batch_inference: {format: json}\n")
    assert "serving.request_log.sampling_rate: Input should be less than or equal to 1" in error_of(
        tmp_path, MINIMAL + "serving: {request_log: {sampling_rate: 2}}\n")
    assert "serving.model_server: Input should be" in error_of(tmp_path, MINIMAL + "serving: {model_server: docker}\n")


@pytest.mark.parametrize("overrides, message", [
    (["model.learning_rate=.nan"], "model.learning_rate: Input should be a finite number"),
    (["evaluation.thresholds.0.lower_bound=.inf"], "evaluation.thresholds[0].lower_bound: Input should be a finite number"),
    (["model.train_steps=99999999999999"], "model.train_steps: Input should be less than or equal to 2147483647"),
    (["label.name=fare_xf"], "'fare_xf' ends in _xf, the suffix of the transformed features"),
    (["kubeflow.schedule.cron=0 0 0 30 2 *"], "'0 0 0 30 2 *' never fires: no month of '2' has a day '30'"),
    (["kubeflow.schedule.cron=0 0 0 31 APR,JUN *"], "never fires: no month of 'APR,JUN' has a day '31'"),
])
def test_values_that_validate_then_fail_are_refused_by_validate(tmp_path, overrides, message):
    assert message in error_of(tmp_path, MINIMAL, overrides)


def test_a_cron_that_fires_on_february_29th_is_kept(project):
    cfg = load_config(project / "configs" / "taxi.yaml", ["kubeflow.schedule.cron=0 0 0 29 FEB *"])
    assert cfg.kubeflow.schedule.cron == "0 0 0 29 FEB *"


def test_a_missing_or_broken_schema_file_is_refused_before_anything_runs(tmp_path, project):
    from pipelines.config import check_data_columns

    missing = load_config(project / "configs" / "taxi.yaml", [f"schema_file={tmp_path / 'nope.pbtxt'}"])
    with pytest.raises(ConfigError, match="schema_file: cannot read .*nope.pbtxt"):
        check_data_columns(missing)
    (tmp_path / "broken.pbtxt").write_text("feature { name: 'x' type: NOT_A_TYPE }")
    broken = load_config(project / "configs" / "taxi.yaml", [f"schema_file={tmp_path / 'broken.pbtxt'}"])
    with pytest.raises(ConfigError, match="is not a TFDV schema in text format"):
        check_data_columns(broken)


@pytest.mark.parametrize("override, message", [
    ("output_root={loop}/x", "output_root: '{loop}/x': not a usable path (Symlink loop"),
    ("data.path={loop}", "data.path: '{loop}': not a usable path (Symlink loop"),
    ("data.path=package://../../etc", "data.path: package://../../etc: package '..' is not installed"),
])
def test_paths_that_cannot_be_resolved_are_named_before_anything_runs(tmp_path, project, override, message):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(ConfigError) as error:
        load_config(project / "configs" / "taxi.yaml", [override.format(loop=loop)])
    assert message.format(loop=loop) in str(error.value)


def test_the_positive_class_is_one_of_two_classes_listed_last(tmp_path):
    label = "label: {kind: classes, name: risk, column: risk, classes: [good, bad], positive: %s}"
    text = MINIMAL.replace(MINIMAL.splitlines()[4], label)
    assert load_config(write(tmp_path, text % "bad")).label.positive_class == "bad"
    assert "must be listed last" in error_of(tmp_path, text % "good") and "classes: ['bad', 'good']" in error_of(
        tmp_path, text % "good")
    assert "'ugly' is not one of classes" in error_of(tmp_path, text % "ugly")
