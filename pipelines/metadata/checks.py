"""Checks run outside a pipeline (`mlops monitor`), recorded in ML Metadata beside the pipeline's runs:
an execution whose input is the served PushedModel and whose outputs are the serving statistics and the
skew record, so that lineage shows what the served model was checked against, and when."""
from __future__ import annotations

import json
from typing import Optional

from ml_metadata.proto import metadata_store_pb2

from pipelines.metadata import records, registry
from pipelines.metadata.reader import MetadataReader

SKEW_CHECK_TYPE = "mlops.SkewCheck"


def served_model_version(reader: MetadataReader, serving_dir: str) -> Optional[registry.ModelVersion]:
    return next((v for v in registry.model_versions(reader, serving_dir, with_metrics=False) if v.served), None)


def training_schema_uri(reader: MetadataReader, model_id: int) -> Optional[str]:
    """The folder of the schema the Trainer read when it trained the model."""
    _, inputs = registry.producer_inputs(reader, model_id)
    return inputs["schema"][0].uri if inputs.get("schema") else None


def model_value_types(reader: MetadataReader, model_id: int) -> Optional[dict[str, str]]:
    """{column: FLOAT|INT|BYTES} of the schema the model was trained with: how new CSV data must be read to
    be parsed by it (a FLOAT column written `30` is a float). None when ML Metadata does not have it."""
    import os

    from pipelines.shared.artifact_files import schema_file_value_types

    uri = training_schema_uri(reader, model_id)
    return schema_file_value_types(os.path.join(uri, "schema.pbtxt")) if uri else None


def model_importance_uri(reader: MetadataReader, model_id: int) -> Optional[str]:
    """The folder of the feature importance computed for a model in its training run (FeatureImportance)."""
    from pipelines.shared import component_ids

    for execution in reversed(reader.consumers(model_id)):
        if reader.node_name(execution) == component_ids.FEATURE_IMPORTANCE:
            found = reader.outputs_of(execution.id).get("feature_importance")
            if found:
                return found[0].uri
    return None


def record_skew_check(reader: MetadataReader, served: Optional[registry.ModelVersion], serving_path: str,
                      statistics_uri: str, skew_uri: str, skewed: list[str], examples: int,
                      attribution_ndcg: Optional[float] = None) -> int:
    """Records one `mlops monitor` check; returns the execution id."""
    store = reader.store

    def artifact(type_name: str, uri: str) -> metadata_store_pb2.Artifact:
        result = metadata_store_pb2.Artifact(type_id=records.artifact_type_id(store, type_name), uri=uri,
                                             state=metadata_store_pb2.Artifact.LIVE)
        result.custom_properties["split_names"].string_value = json.dumps(["serving"])
        return result

    inputs = {"served_model": store.get_artifacts_by_id([served.pushed_model_id])[0]} if served is not None else {}
    return records.record_execution(
        reader, SKEW_CHECK_TYPE, {"serving_data": serving_path, "skewed": ",".join(skewed), "examples": examples},
        inputs, {"statistics": artifact("ExampleStatistics", statistics_uri), "skew": artifact("ExampleAnomalies", skew_uri)},
        {"attribution_ndcg": f"{attribution_ndcg:.4f}"} if attribution_ndcg is not None else None)
