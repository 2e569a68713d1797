"""create_pipeline wires what the config asks for, and nothing runs while it does."""
from pipelines.assembly import create_pipeline
from pipelines.config import load_config


def node_ids(project, *overrides):
    cfg = load_config(project / "configs" / "taxi.yaml", list(overrides))
    return [c.id for c in create_pipeline(cfg).components]


def test_default_taxi_pipeline(project):
    assert node_ids(project) == ["CsvExampleGen", "ImportSchemaGen", "StatisticsGen", "ExampleValidator", "DataGate",
                                 "Transform", "Trainer", "latest_blessed_model_resolver", "Evaluator", "Pusher"]


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
    pipeline = create_pipeline(cfg, beam_args=["--direct_num_workers=1"])
    assert pipeline.pipeline_info.pipeline_name == "taxi"
    assert pipeline.pipeline_info.pipeline_root == "/tmp/x/pipeline_root"
    assert pipeline.beam_pipeline_args == ["--direct_num_workers=1"]
    pusher = next(c for c in pipeline.components if c.id == "Pusher")
    assert '"/tmp/x/serving_model"' in pusher.exec_properties["push_destination"]
