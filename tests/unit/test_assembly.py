"""create_pipeline wires what the config asks for, and nothing runs while it does."""
import itertools

from pipelines import component_ids
from pipelines.assembly import create_pipeline
from pipelines.config import load_config


def node_ids(project, *overrides):
    cfg = load_config(project / "configs" / "taxi.yaml", list(overrides))
    return [c.id for c in create_pipeline(cfg).components]


def test_default_taxi_pipeline(project):
    assert node_ids(project) == ["CsvExampleGen", "ImportSchemaGen", "StatisticsGen", "ExampleValidator", "DataGate",
                                 "Transform", "Trainer", "InfraValidator", "latest_blessed_model_resolver", "Evaluator",
                                 "Pusher"]


def test_every_node_id_of_every_pipeline_shape_is_declared_in_component_ids(project):
    """Tuning on/off, data gate on/off, curated or inferred schema, local or Kubeflow: every id a
    pipeline gets is declared once in component_ids, and every declared id occurs in some pipeline."""
    produced = set()
    for tuning, on_anomalies, curated, target in itertools.product(
            [False, True], ["stop", "warn"], [True, False], ["local", "kubeflow"]):
        overrides = [f"tuning.enabled={tuning}", f"on_anomalies={on_anomalies}"] + ([] if curated else ["name=unknown"])
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


def test_warn_mode_has_no_gate_and_tuning_adds_a_tuner_feeding_the_trainer(project):
    ids = node_ids(project, "on_anomalies=warn", "tuning.enabled=true")
    assert "DataGate" not in ids
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
