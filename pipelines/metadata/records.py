"""Writing to ML Metadata outside a TFX run (`mlops monitor`'s checks, rollouts): types, events and
executions in the pipeline's context, so that `mlops lineage` and `mlops models` find them beside the runs."""
from __future__ import annotations

from typing import Optional

from ml_metadata.proto import metadata_store_pb2

from pipelines.metadata.reader import MetadataReader

Event = metadata_store_pb2.Event


def event(kind, key: str) -> metadata_store_pb2.Event:
    """An INPUT or OUTPUT event through `key`, as TFX links artifacts ("model", "statistics")."""
    result = metadata_store_pb2.Event(type=kind)
    result.path.steps.add().key = key
    return result


def artifact_type_id(store, name: str) -> int:
    try:
        return store.get_artifact_type(name).id
    except Exception:  # noqa: BLE001 - MLMD raises its NotFoundError: a store no TFX run has written to yet
        return store.put_artifact_type(metadata_store_pb2.ArtifactType(name=name))


def set_value(value_proto: metadata_store_pb2.Value, value) -> None:
    """An int or a string into an MLMD Value (a property or custom property)."""
    if isinstance(value, int):
        value_proto.int_value = value
    else:
        value_proto.string_value = value


def record_execution(reader: MetadataReader, type_name: str, properties: dict, inputs: dict, outputs: dict,
                     custom_properties: Optional[dict] = None,
                     state=metadata_store_pb2.Execution.COMPLETE) -> int:
    """An execution of `type_name` (COMPLETE unless `state` says otherwise: RUNNING records an intent) with
    string/int properties (and custom ones, which its type does not declare: a store written by an older
    version keeps its types), linked to existing (or new) artifacts by key; returns its id."""
    store = reader.store
    execution_type = metadata_store_pb2.ExecutionType(name=type_name)
    for name, value in properties.items():
        execution_type.properties[name] = metadata_store_pb2.INT if isinstance(value, int) else metadata_store_pb2.STRING
    execution = metadata_store_pb2.Execution(type_id=store.put_execution_type(execution_type),
                                             last_known_state=state)
    for name, value in properties.items():
        set_value(execution.properties[name], value)
    for name, value in (custom_properties or {}).items():
        set_value(execution.custom_properties[name], value)
    pairs = [(artifact, event(Event.INPUT, key)) for key, artifact in inputs.items()]
    pairs += [(artifact, event(Event.OUTPUT, key)) for key, artifact in outputs.items()]
    execution_id, _, _ = store.put_execution(execution, pairs, [reader.pipeline_context])
    return execution_id
