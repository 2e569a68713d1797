"""Checks run outside a pipeline (`mlops monitor`), recorded in ML Metadata beside the pipeline's runs:
an execution whose input is the served PushedModel and whose outputs are the serving statistics and the
skew record, so that lineage shows what the served model was checked against, and when."""
from __future__ import annotations

import json
from typing import Optional

from ml_metadata.proto import metadata_store_pb2

from pipelines.metadata import registry
from pipelines.metadata.reader import MetadataReader

SKEW_CHECK_TYPE = "mlops.SkewCheck"


def served_model_version(reader: MetadataReader, serving_dir: str) -> Optional[registry.ModelVersion]:
    return next((v for v in registry.model_versions(reader, serving_dir, with_metrics=False) if v.served), None)


def training_schema_uri(reader: MetadataReader, model_id: int) -> Optional[str]:
    """The folder of the schema the Trainer read when it trained the model."""
    _, inputs = registry.producer_inputs(reader, model_id)
    return inputs["schema"][0].uri if inputs.get("schema") else None


def _artifact_type_id(store, name: str) -> int:
    try:
        return store.get_artifact_type(name).id
    except Exception:  # noqa: BLE001 - MLMD raises its NotFoundError: a store no TFX run has written to yet
        return store.put_artifact_type(metadata_store_pb2.ArtifactType(name=name))


def record_skew_check(reader: MetadataReader, served: Optional[registry.ModelVersion], serving_path: str,
                      statistics_uri: str, skew_uri: str, skewed: list[str], examples: int) -> int:
    """Records one `mlops monitor` check; returns the execution id."""
    store = reader.store
    execution_type = metadata_store_pb2.ExecutionType(name=SKEW_CHECK_TYPE)
    for name in ("serving_data", "skewed"):
        execution_type.properties[name] = metadata_store_pb2.STRING
    execution_type.properties["examples"] = metadata_store_pb2.INT
    execution = metadata_store_pb2.Execution(type_id=store.put_execution_type(execution_type),
                                             last_known_state=metadata_store_pb2.Execution.COMPLETE)
    execution.properties["serving_data"].string_value = serving_path
    execution.properties["skewed"].string_value = ",".join(skewed)
    execution.properties["examples"].int_value = examples

    def artifact(type_name: str, uri: str) -> metadata_store_pb2.Artifact:
        result = metadata_store_pb2.Artifact(type_id=_artifact_type_id(store, type_name), uri=uri,
                                             state=metadata_store_pb2.Artifact.LIVE)
        result.custom_properties["split_names"].string_value = json.dumps(["serving"])
        return result

    def event(kind, key):
        e = metadata_store_pb2.Event(type=kind)
        e.path.steps.add().key = key
        return e

    pairs = [(artifact("ExampleStatistics", statistics_uri), event(metadata_store_pb2.Event.OUTPUT, "statistics")),
             (artifact("ExampleAnomalies", skew_uri), event(metadata_store_pb2.Event.OUTPUT, "skew"))]
    if served is not None:
        model = store.get_artifacts_by_id([served.pushed_model_id])[0]
        pairs.insert(0, (model, event(metadata_store_pb2.Event.INPUT, "served_model")))
    execution_id, _, _ = store.put_execution(execution, pairs, [reader.pipeline_context])
    return execution_id
