"""create_pipeline wires what the config asks for, and nothing runs while it does."""
import itertools

from pipelines.assembly import create_pipeline
from pipelines.config import load_config
from pipelines.config.parts import DataGatePart
from pipelines.shared import component_ids


def node_ids(project, *overrides):
    cfg = load_config(project / "configs" / "taxi.yaml", list(overrides))
    return [c.id for c in create_pipeline(cfg).components]


def test_default_taxi_pipeline(project):
    assert node_ids(project) == ["CsvExampleGen", "ImportSchemaGen", "latest_pushed_model_resolver", "StatisticsGen",
                                 "DriftCheck", "ExampleValidator", "DataGate", "ReferenceModel", "Transform", "Trainer",
                                 "FeatureImportance",
                                 "InfraValidator",
                                 "latest_blessed_model_resolver", "Evaluator",
                                 "Pusher"]


def test_the_reference_model_is_optional_and_gates_the_pusher_only_with_on_gap_stop(project):
    assert "ReferenceModel" not in node_ids(project, "evaluation.reference.enabled=false")
    cfg = load_config(project / "configs" / "taxi.yaml", [])
    pusher = next(c for c in create_pipeline(cfg).components if c.id == "Pusher")
    assert "reference" not in pusher.inputs
    cfg = load_config(project / "configs" / "taxi.yaml", ["evaluation.reference.on_gap=stop",
                                                          "evaluation.reference.max_gap=0.05"])
    components = {c.id: c for c in create_pipeline(cfg).components}
    pusher = components["Pusher"]
    assert pusher.inputs["reference"].producer_component_id == "ReferenceModel"
    assert pusher.inputs["evaluation"].producer_component_id == "Evaluator"


def test_every_node_id_of_every_pipeline_shape_is_declared_in_component_ids(project):
    """Tuning on/off, data gate on/off, curated or inferred schema, local or Kubeflow, batch inference: every id a
    pipeline gets is declared once in component_ids, and every declared id occurs in some pipeline."""
    produced = set()
    for tuning, on_anomalies, on_drift, curated, target, scoring in itertools.product(
            [False, True], ["stop", "warn"], ["stop", "skip"], [True, False], ["local", "kubeflow"], [False, True]):
        overrides = [f"tuning.enabled={tuning}", f"on_anomalies={on_anomalies}", f"drift.on_drift={on_drift}"] + (
            [] if curated else ["name=unknown"]) + (
            ["batch_inference.data=new.csv", "batch_inference.output=out.csv", "batch_inference.id_column=id"]
            if scoring else [])
        cfg = load_config(project / "configs" / "taxi.yaml", overrides)
        ids = [c.id for c in create_pipeline(cfg, target=target).components]
        assert len(ids) == len(set(ids)), ids
        assert set(ids) <= set(component_ids.ALL), f"not declared in component_ids: {set(ids) - set(component_ids.ALL)}"
        produced |= set(ids)
    assert produced == set(component_ids.ALL), f"declared but never wired: {set(component_ids.ALL) - produced}"


def test_transform_waits_for_the_data_gate(project):
    cfg = load_config(project / "configs" / "taxi.yaml")
    nodes = {c.id: c for c in create_pipeline(cfg).components}
    assert "DataGate" in {n.id for n in nodes["Transform"].upstream_nodes}


def gate_part(gate) -> DataGatePart:
    return DataGatePart.model_validate_json(gate.exec_properties["config"])


def test_the_gate_stops_on_what_the_config_says_and_warn_mode_has_no_gate(project):
    def gate(*overrides):
        cfg = load_config(project / "configs" / "taxi.yaml", list(overrides))
        return next((c for c in create_pipeline(cfg).components if c.id == "DataGate"), None)

    stop_on_both = gate()
    assert stop_on_both.inputs["drift"].producer_component_id == "DriftCheck"
    assert gate_part(stop_on_both).check_anomalies is True
    drift_only = gate("on_anomalies=warn")
    assert gate_part(drift_only).check_anomalies is False and "drift" in drift_only.inputs
    assert "drift" not in gate("drift.on_drift=warn").inputs
    assert gate("on_anomalies=warn", "drift.on_drift=warn") is None
    assert "DriftCheck" not in node_ids(project, "drift.on_drift=skip")


def test_the_drift_check_compares_each_feature_by_its_kind_and_the_pusher_carries_the_statistics(project):
    import json

    cfg = load_config(project / "configs" / "taxi.yaml", ["drift.features.fare.jensen_shannon=0.3",
                                                          "drift.features.company=null"])
    nodes = {c.id: c for c in create_pipeline(cfg).components}
    config = json.loads(nodes["DriftCheck"].exec_properties["config"])
    assert config["comparators"]["trip_miles"] == ["jensen_shannon", 0.1]
    assert config["comparators"]["payment_type"] == ["l_infinity", 0.1]
    assert config["comparators"]["trip_start_hour"] == ["l_infinity", 0.1]
    assert config["comparators"]["fare"] == ["jensen_shannon", 0.3] and "company" not in config["comparators"]
    assert nodes["DriftCheck"].exec_properties["serving_dir"] == cfg.serving_dir
    assert nodes["Pusher"].inputs["training_statistics"].producer_component_id == "StatisticsGen"
    # Integer categories get value counts, without which L-infinity measures 0.
    stats_options = json.loads(nodes["StatisticsGen"].exec_properties["stats_options_json"])
    assert "trip_start_hour" in json.dumps(stats_options)


def test_a_window_of_spans_is_trained_on_and_only_the_newest_span_is_checked(project):
    cfg = load_config(project / "configs" / "taxi.yaml", ["data.pattern=span-{SPAN}/*.csv", "data.span_window=3"])
    nodes = {c.id: c for c in create_pipeline(cfg).components}
    assert '"earlier_spans"' in nodes["StatisticsGen"].exec_properties["exclude_splits"]
    assert "earlier_spans" in nodes["Transform"].exec_properties["splits_config"]
    assert "earlier_spans" in nodes["Trainer"].exec_properties["train_args"]
    assert "earlier_spans" not in nodes["Evaluator"].exec_properties["example_splits"]


def test_tuning_adds_a_tuner_feeding_the_trainer(project):
    ids = node_ids(project, "tuning.enabled=true")
    assert ids.index("Tuner") < ids.index("Trainer")
    cfg = load_config(project / "configs" / "taxi.yaml", ["tuning.enabled=true"])
    trainer = next(c for c in create_pipeline(cfg).components if c.id == "Trainer")
    assert trainer.inputs["hyperparameters"].producer_component_id == "Tuner"


def test_without_a_curated_schema_schemagen_infers_one(project):
    ids = node_ids(project, "name=unknown")  # no schemas/unknown/schema.pbtxt
    assert "SchemaGen" in ids and "ImportSchemaGen" not in ids


def test_the_pipeline_carries_the_config_paths(project):
    cfg = load_config(project / "configs" / "taxi.yaml", ["output_root=/tmp/x"])
    pipeline = create_pipeline(cfg)
    assert pipeline.pipeline_info.pipeline_name == "taxi"
    assert pipeline.pipeline_info.pipeline_root == "/tmp/x/pipeline_root"
    pusher = next(c for c in pipeline.components if c.id == "Pusher")
    assert '"/tmp/x/serving_model"' in pusher.exec_properties["push_destination"]


def test_pusher_is_gated_by_the_infra_validator_with_the_configured_settings(project):
    import json

    cfg = load_config(project / "configs" / "taxi.yaml", [
        "infra_validation.platform=local_process", "infra_validation.tries=2", "infra_validation.num_examples=7"])
    nodes = {c.id: c for c in create_pipeline(cfg).components}
    pusher, validator = nodes["Pusher"], nodes["InfraValidator"]
    assert pusher.inputs["infra_blessing"].producer_component_id == "InfraValidator"
    assert pusher.inputs["model_blessing"].producer_component_id == "Evaluator"
    assert validator.inputs["model"].producer_component_id == "Trainer"
    assert validator.inputs["examples"].producer_component_id == "CsvExampleGen"
    assert json.loads(validator.exec_properties["platform_config"])["platform"] == "local_process"
    assert json.loads(validator.exec_properties["validation_spec"])["num_tries"] == 2
    request_spec = json.loads(validator.exec_properties["request_spec"])
    assert request_spec["num_examples"] == 7 and request_spec["split_name"] == "eval"


def test_load_only_mode_sends_no_requests_and_needs_no_examples(project):
    cfg = load_config(project / "configs" / "taxi.yaml", ["infra_validation.mode=load_only"])
    validator = next(c for c in create_pipeline(cfg).components if c.id == "InfraValidator")
    assert validator.exec_properties["request_spec"] is None
    assert "examples" not in validator.inputs


def test_editing_the_schema_file_changes_import_schema_gen_parameters(project, tmp_path):
    schema = tmp_path / "schema.pbtxt"
    schema.write_text((project / "schemas" / "taxi" / "schema.pbtxt").read_text())

    def import_parameters():
        cfg = load_config(project / "configs" / "taxi.yaml", [f"schema_file={schema}"])
        node = next(c for c in create_pipeline(cfg).components if c.id == "ImportSchemaGen")
        return dict(node.exec_properties)

    before = import_parameters()
    assert before == import_parameters()  # same file, same cache key
    schema.write_text(schema.read_text().replace("max: 10000.0", "max: 20000.0", 1))
    after = import_parameters()
    assert after["schema_file"] == before["schema_file"] and after != before


def test_without_a_baseline_the_evaluator_has_no_baseline_input_and_no_resolver(project):
    cfg = load_config(project / "configs" / "taxi.yaml", ["evaluation.baseline=none"])
    pipeline = create_pipeline(cfg)
    nodes = {c.id: c for c in pipeline.components}
    assert component_ids.BASELINE_RESOLVER not in nodes
    assert "baseline_model" not in nodes[component_ids.EVALUATOR].inputs
    with_baseline = {c.id: c for c in create_pipeline(load_config(project / "configs" / "taxi.yaml")).components}
    assert "baseline_model" in with_baseline[component_ids.EVALUATOR].inputs


def test_rows_without_a_label_are_left_out_by_example_gen_and_counted_at_the_gate(project):
    from components.csv_example_gen import executor

    cfg = load_config(project / "configs" / "taxi.yaml", ["label.max_missing_fraction=0.25"])
    nodes = {c.id: c for c in create_pipeline(cfg).components}
    options = executor.custom_options(nodes[component_ids.EXAMPLE_GEN].exec_properties)
    assert options.label_columns == ["fare", "tips"]  # tips > 0.2 * fare needs both
    assert options.value_types["fare"] == "FLOAT" and options.value_types["payment_type"] == "BYTES"
    gate = nodes[component_ids.DATA_GATE]
    assert gate_part(gate).max_missing_labels == 0.25 and "examples" in gate.inputs
    # The gate's share is not Transform's business: changing it keeps Transform's cache key.
    other = {c.id: c for c in create_pipeline(load_config(project / "configs" / "taxi.yaml")).components}
    assert other[component_ids.TRANSFORM].exec_properties == nodes[component_ids.TRANSFORM].exec_properties


def test_transform_writes_no_analyzer_cache_that_nothing_reads(project):
    """No Transform input takes a cache back, so writing one (a Beam sink per analyzer) would be wasted time."""
    cfg = load_config(project / "configs" / "taxi.yaml")
    transform = next(c for c in create_pipeline(cfg).components if c.id == "Transform")
    assert "analyzer_cache" not in transform.inputs
    assert "updated_analyzer_cache" not in transform.outputs


def test_examplegens_cache_key_follows_the_datas_content_and_the_drift_check_the_served_version(project):
    from components.csv_example_gen.executor import custom_options

    cfg = load_config(project / "configs" / "taxi.yaml", [])

    def parts(digest, served):
        components = {c.id: c for c in create_pipeline(cfg.with_data_digest(digest).with_served_version(served)).components}
        example_gen = custom_options(components["CsvExampleGen"].exec_properties)
        return example_gen.data_digest, components["DriftCheck"].exec_properties["config"]

    assert parts("abc", None)[0] == "abc" and parts("abd", None)[0] == "abd"  # another content: another cache key
    assert parts("abc", "1700000000")[1] != parts("abc", None)[1]  # a rollback: the drift check runs again
