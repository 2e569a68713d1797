"""A model registry on ML Metadata: versions of the pushed models, which one is served, rollback.

Versions are MAJOR.MINOR.PIPELINE, computed from the sequence of pushes (so nothing extra has to be
kept in sync): MAJOR when the data contract changes (the schema the Trainer used, or the label
definition), MINOR when a newly trained model is pushed on the same contract, PIPELINE when the same
model is pushed again because only the pipeline around it changed (a threshold, infra validation).
A rollback re-publishes an earlier version's SavedModel as a new TF Serving version folder (staged,
then one rename) and is recorded in MLMD as a `mlops.Rollback` execution with a PushedModel output.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from typing import Optional

from google.protobuf.message import DecodeError
from ml_metadata.proto import metadata_store_pb2

from components.atomic_pusher import logic as push_logic
from pipelines.metadata.evaluation import read_evaluation
from pipelines.metadata.reader import MetadataReader, int_property, string_property

ROLLBACK_TYPE = "mlops.Rollback"


@dataclass
class ModelVersion:
    version: str
    pushed_model_id: int
    model_id: int
    pushed_at: float
    serving_path: str
    contract: str = ""
    metrics: dict = field(default_factory=dict)
    infra_platform: Optional[str] = None
    rollback_of: Optional[str] = None   # the version a rollback re-published
    served: bool = False


def next_version(previous: Optional[tuple], previous_contract: Optional[str], previous_model: Optional[int],
                 contract: str, model_id: int) -> tuple:
    if previous is None:
        return (1, 0, 0)
    major, minor, patch = previous
    if contract != previous_contract:
        return (major + 1, 0, 0)
    if model_id != previous_model:
        return (major, minor + 1, 0)
    return (major, minor, patch + 1)


def producer_inputs(reader: MetadataReader, artifact_id: int) -> tuple[Optional[object], dict]:
    """The execution that wrote an artifact, and its inputs by key."""
    execution = reader.producer(artifact_id)
    if execution is None:
        return None, {}
    return execution, reader.inputs_of(execution.id)


def pushed_models(reader: MetadataReader) -> list:
    return [a for a in reader.pipeline_artifacts()
            if int_property(a, "pushed") == 1 and string_property(a, "pushed_destination")]


def data_contract(reader: MetadataReader, model) -> str:
    """A digest of what the model's inputs mean: the schema the Trainer read and the label definition."""
    trainer, inputs = producer_inputs(reader, model.id)
    digest = hashlib.sha256()
    for schema in inputs.get("schema", []):
        schema_file = os.path.join(schema.uri, "schema.pbtxt")
        if os.path.exists(schema_file):
            with open(schema_file, "rb") as f:
                digest.update(f.read())
    if trainer is not None:
        config = string_property(trainer, "custom_config")
        try:
            label = json.loads(json.loads(config)["config"])["label"]
        except (ValueError, KeyError, TypeError):
            label = config
        digest.update(json.dumps(label, sort_keys=True).encode())
    return digest.hexdigest()[:12]


def model_versions(reader: MetadataReader, serving_dir: Optional[str] = None,
                   with_metrics: bool = True) -> list[ModelVersion]:
    versions: list[ModelVersion] = []
    by_pushed_id: dict[int, ModelVersion] = {}
    previous = None
    for pushed in pushed_models(reader):
        _, inputs = producer_inputs(reader, pushed.id)
        pushed_at = pushed.create_time_since_epoch / 1000
        path = string_property(pushed, "pushed_destination")
        source_id = int_property(pushed, "rollback_of")
        if source_id:  # a rollback: the same version as what it re-published
            source = by_pushed_id[source_id]
            entry = ModelVersion(source.version, pushed.id, source.model_id, pushed_at, path, source.contract,
                                 source.metrics, source.infra_platform, rollback_of=source.version)
        else:
            model = inputs["model"][0]
            contract = data_contract(reader, model)
            number = next_version(previous and previous[0], previous and previous[1], previous and previous[2],
                                  contract, model.id)
            previous = (number, contract, model.id)
            entry = ModelVersion(".".join(map(str, number)), pushed.id, model.id, pushed_at, path, contract)
            if inputs.get("infra_blessing"):
                entry.infra_platform = string_property(inputs["infra_blessing"][0], "platform") or None
            if with_metrics and inputs.get("model_blessing"):
                entry.metrics = _overall_metrics(reader, inputs["model_blessing"][0])
        by_pushed_id[pushed.id] = entry
        versions.append(entry)
    served = served_path(serving_dir) if serving_dir else None
    for entry in versions:
        entry.served = served is not None and os.path.abspath(entry.serving_path) == served
    return versions


def _overall_metrics(reader: MetadataReader, blessing) -> dict:
    evaluator = reader.producer(blessing.id)
    outputs = reader.outputs_of(evaluator.id) if evaluator else {}
    if not outputs.get("evaluation"):
        return {}
    try:
        return read_evaluation(outputs["evaluation"][0].uri)[0].get("overall", {})
    except (OSError, ValueError, DecodeError):  # an evaluation folder removed or damaged by hand: the version is still listed
        return {}


def served_path(serving_dir: str) -> Optional[str]:
    """What TF Serving serves from a base folder: the highest all-digit version folder."""
    if not os.path.isdir(serving_dir):
        return None
    numbers = [int(name) for name in os.listdir(serving_dir) if name.isdigit()]
    return os.path.abspath(os.path.join(serving_dir, str(max(numbers)))) if numbers else None


def find(versions: list[ModelVersion], version: str) -> ModelVersion:
    matches = [v for v in versions if v.version == version and v.rollback_of is None]
    if not matches:
        raise LookupError(f"no pushed model version {version}; versions: {', '.join(v.version for v in versions)}")
    return matches[-1]


def pushed_model_id(reader: MetadataReader, which: str) -> int:
    """The PushedModel artifact id for `latest`, a version ("1.2.0") or an artifact id."""
    if which.isdigit():
        return int(which)
    versions = model_versions(reader, with_metrics=False)
    if not versions:
        raise LookupError(f"pipeline {reader.pipeline_name} has no pushed model in ML Metadata")
    return (versions[-1] if which == "latest" else find(versions, which)).pushed_model_id


def rollback(reader: MetadataReader, serving_dir: str, version: str) -> ModelVersion:
    """Serves `version` again: a new version folder, complete before it appears; recorded in MLMD."""
    versions = model_versions(reader, serving_dir, with_metrics=False)
    target = find(versions, version)
    source = target.serving_path
    if not os.path.isdir(source):
        raise FileNotFoundError(f"version {version}'s SavedModel is gone from {source}")
    served = served_path(serving_dir)
    number = max(int(time.time()), int(os.path.basename(served)) + 1 if served else 0)
    staging = push_logic.staging_dir(serving_dir)
    try:
        staged = os.path.join(staging, str(number))
        shutil.copytree(source, staged)
        final = push_logic.publish(staged, serving_dir)
    finally:
        push_logic.discard(staging)
    _record_rollback(reader, target, final, number)
    return next(v for v in model_versions(reader, serving_dir, with_metrics=False) if v.served)


def _record_rollback(reader: MetadataReader, target: ModelVersion, final: str, number: int) -> None:
    store = reader.store
    execution_type = metadata_store_pb2.ExecutionType(name=ROLLBACK_TYPE)
    execution_type.properties["to_version"] = metadata_store_pb2.STRING
    type_id = store.put_execution_type(execution_type)
    pushed_type = store.get_artifact_type("PushedModel")

    execution = metadata_store_pb2.Execution(type_id=type_id, last_known_state=metadata_store_pb2.Execution.COMPLETE)
    execution.properties["to_version"].string_value = target.version
    output = metadata_store_pb2.Artifact(type_id=pushed_type.id, uri=final, state=metadata_store_pb2.Artifact.LIVE)
    output.custom_properties["pushed"].int_value = 1
    output.custom_properties["pushed_destination"].string_value = final
    output.custom_properties["pushed_version"].string_value = str(number)
    output.custom_properties["rollback_of"].int_value = target.pushed_model_id
    source = store.get_artifacts_by_id([target.pushed_model_id])[0]

    def event(kind, key):
        e = metadata_store_pb2.Event(type=kind)
        e.path.steps.add().key = key
        return e

    store.put_execution(execution, [(source, event(metadata_store_pb2.Event.INPUT, "model")),
                                    (output, event(metadata_store_pb2.Event.OUTPUT, "pushed_model"))],
                        [reader.pipeline_context])


def format_versions(pipeline_name: str, versions: list[ModelVersion]) -> str:
    import datetime

    if not versions:
        return f"Pipeline {pipeline_name}: no pushed model"
    names = sorted({m for v in versions for m in v.metrics})
    lines = [f"Pipeline {pipeline_name}: {len(versions)} pushes", "",
             "  " + f"{'version':<9} {'pushed at':<19} " + "".join(f"{n:>17}" for n in names) + "  serving path"]
    for v in versions:
        when = datetime.datetime.fromtimestamp(v.pushed_at).strftime("%Y-%m-%d %H:%M:%S")
        metrics = "".join(f"{v.metrics[n]:>17.4g}" if n in v.metrics else f"{'-':>17}" for n in names)
        notes = []
        if v.rollback_of:
            notes.append(f"rollback to {v.rollback_of}")
        if v.infra_platform:
            notes.append(f"infra-validated on {v.infra_platform}")
        mark = "* " if v.served else "  "
        lines.append(f"{mark}{v.version:<9} {when:<19} {metrics}  {v.serving_path}"
                     + (f"  ({'; '.join(notes)})" if notes else ""))
    lines += ["", "* served (the highest version folder in the serving directory); every push was blessed by the "
                  "Evaluator and the InfraValidator"]
    return "\n".join(lines)
