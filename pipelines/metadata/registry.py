"""A model registry on ML Metadata: versions of the pushed models, and which ones are served under labels.

Versions are MAJOR.MINOR.PIPELINE, computed from the sequence of pushes (so nothing extra has to be
kept in sync). They describe the serving contract, what a client must send and what it gets back:
MAJOR when a request needs an input it did not need (or an input's type changed) or the label means
something else, since existing clients break; MINOR when a newly trained model is pushed without such a
change (an input dropped, the schema changed otherwise, or just new training); PIPELINE when the same
model is pushed again because only the pipeline around it changed (a threshold, infra validation).
Each version is one folder of the serving directory. Which folders are served, under which labels
(`stable`, `canary`), is the latest rollout's (pipelines/metadata/rollouts.py); before any rollout, TF
Serving's default: the highest folder.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Optional

from google.protobuf.message import DecodeError

from pipelines.metadata.evaluation import read_evaluation, value_text
from pipelines.metadata.privacy import forgotten_by
from pipelines.metadata.reader import MetadataReader, int_property, string_property
from pipelines.metadata.rollouts import current_state
from pipelines.shared import component_ids as ids
from pipelines.shared import reference_model
from pipelines.shared.serving_layout import served_version_dir
from pipelines.shared.version_labels import STABLE


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
    labels: list = field(default_factory=list)  # "stable", "canary": what the server serves it as
    forgotten_by: Optional[str] = None          # forget requests whose rows it was trained on (execution ids)
    reference: dict = field(default_factory=dict)  # the ReferenceModel's summary of the run that pushed it

    @property
    def folder(self) -> int:
        """Its TF Serving version number: the name of its folder in the serving directory."""
        return int(os.path.basename(self.serving_path))

    @property
    def served(self) -> bool:
        return STABLE in self.labels


@dataclass(frozen=True)
class Contract:
    """What a model's requests and answers mean: its raw inputs with their types, the label definition, and a
    digest of the whole schema it was trained with."""
    inputs: tuple = ()   # ((feature, FLOAT|INT|BYTES), ...), sorted
    label: str = ""      # the label's definition, as JSON
    schema: str = ""     # digest of the schema file

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps([self.inputs, self.label, self.schema]).encode()).hexdigest()[:12]


def breaks_clients(previous: Contract, contract: Contract) -> bool:
    """A request that worked before may fail now: a new input, an input of another type, another label."""
    before = dict(previous.inputs)
    return contract.label != previous.label or any(before.get(name) != kind for name, kind in contract.inputs)


def next_version(previous: Optional[tuple], previous_contract: Optional[Contract], previous_model: Optional[int],
                 contract: Contract, model_id: int) -> tuple:
    if previous is None:
        return (1, 0, 0)
    major, minor, patch = previous
    if previous_contract is not None and breaks_clients(previous_contract, contract):
        return (major + 1, 0, 0)
    if model_id != previous_model or contract != previous_contract:
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
            if int_property(a, "pushed") == 1 and string_property(a, "pushed_destination")
            and not int_property(a, "rollback_of")]  # copies made by the rollback of earlier releases


def data_contract(reader: MetadataReader, model) -> Contract:
    """The model's serving contract: the features its Trainer was configured with, typed by the schema it read,
    and the label definition."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    from pipelines.shared.artifact_files import schema_value_types

    trainer, inputs = producer_inputs(reader, model.id)
    digest, types = hashlib.sha256(), {}
    for schema in inputs.get("schema", []):
        schema_file = os.path.join(schema.uri, "schema.pbtxt")
        if os.path.exists(schema_file):
            with open(schema_file, "rb") as f:
                text = f.read()
            digest.update(text)
            types = schema_value_types(text_format.Parse(text.decode(), schema_pb2.Schema()))
    label, features = "", []
    if trainer is not None:
        config = string_property(trainer, "custom_config") or ""
        try:
            training = json.loads(json.loads(config)["config"])
            label, features = training["label"], [f["name"] for f in training["features"]]
        except (ValueError, KeyError, TypeError):
            label = config
    return Contract(tuple(sorted((name, types.get(name, "")) for name in features)),
                    json.dumps(label, sort_keys=True), digest.hexdigest()[:12])


def model_versions(reader: MetadataReader, serving_dir: Optional[str] = None,
                   with_metrics: bool = True) -> list[ModelVersion]:
    versions: list[ModelVersion] = []
    previous = None
    for pushed in pushed_models(reader):
        pusher, inputs = producer_inputs(reader, pushed.id)
        model = inputs["model"][0]
        contract = data_contract(reader, model)
        number = next_version(previous and previous[0], previous and previous[1], previous and previous[2],
                              contract, model.id)
        previous = (number, contract, model.id)
        entry = ModelVersion(".".join(map(str, number)), pushed.id, model.id, pushed.create_time_since_epoch / 1000,
                             string_property(pushed, "pushed_destination") or "", contract.digest)
        entry.forgotten_by = forgotten_by(pushed)
        if inputs.get("infra_blessing"):
            entry.infra_platform = string_property(inputs["infra_blessing"][0], "platform") or None
        if with_metrics and inputs.get("model_blessing"):
            entry.metrics = _overall_metrics(reader, inputs["model_blessing"][0])
            entry.reference = run_reference(reader, pusher)
        versions.append(entry)
    for label, folder in served_labels(reader, serving_dir).items():
        for entry in versions:
            if entry.folder == folder:
                entry.labels.append(label)
    return versions


def served_labels(reader: MetadataReader, serving_dir: Optional[str]) -> dict[str, int]:
    """label -> version folder: the latest rollout's, else TF Serving's default (the highest folder is stable)."""
    state = current_state(reader)
    if state is not None:
        return dict(state.labels)
    highest = highest_folder(serving_dir) if serving_dir else None
    return {STABLE: highest} if highest is not None else {}


def _overall_metrics(reader: MetadataReader, blessing) -> dict:
    evaluator = reader.producer(blessing.id)
    outputs = reader.outputs_of(evaluator.id) if evaluator else {}
    if not outputs.get("evaluation"):
        return {}
    try:
        return read_evaluation(outputs["evaluation"][0].uri)[0].get("overall", {})
    except (OSError, ValueError, DecodeError):  # an evaluation folder removed or damaged by hand: the version is still listed
        return {}


def run_reference(reader: MetadataReader, pusher) -> dict:
    """The reference model's summary of the run a Pusher execution belongs to; {} when it had none."""
    run_id = reader.run_id(pusher) if pusher is not None else None
    found = next((e for e in reader.run_executions(run_id) if reader.node_name(e) == ids.REFERENCE_MODEL), None) \
        if run_id else None
    artifacts = reader.outputs_of(found.id).get("reference") if found is not None else None
    try:
        return reference_model.read(artifacts[0].uri) if artifacts else {}
    except (OSError, ValueError):  # removed or damaged by hand: the version is still listed
        return {}


def highest_folder(serving_dir: str) -> Optional[int]:
    """The version number of what TF Serving serves from a base folder by default (drift_check's reading of it)."""
    version_dir = served_version_dir(serving_dir)
    return int(os.path.basename(version_dir)) if version_dir else None


def find(versions: list[ModelVersion], version: str) -> ModelVersion:
    matches = [v for v in versions if v.version == version]
    if not matches:
        raise LookupError(f"no pushed model version {version}; versions: {', '.join(v.version for v in versions)}")
    return matches[-1]


def pushed_model_id(reader: MetadataReader, which: str) -> int:
    """The PushedModel artifact id for `latest`, a version ("1.2.0") or an artifact id."""
    if which.isdigit():
        if int(which) >= 2 ** 63:  # MLMD ids are int64
            raise LookupError(f"no artifact has id {which}: ids are below 2^63 (see `mlops models` for versions)")
        return int(which)
    versions = model_versions(reader, with_metrics=False)
    if not versions:
        raise LookupError(f"pipeline {reader.pipeline_name} has no pushed model in ML Metadata")
    return (versions[-1] if which == "latest" else find(versions, which)).pushed_model_id


def stable_model(reader: MetadataReader, serving_dir: str) -> tuple[ModelVersion, str]:
    """The served (stable) version and its Trainer output folder; LookupError when there is none, or when
    ML Metadata does not show it blessed by the Evaluator."""
    stable = next((v for v in model_versions(reader, serving_dir, with_metrics=False) if v.served), None)
    if stable is None:
        raise LookupError(f"pipeline {reader.pipeline_name} serves no model: run the pipeline until one is pushed")
    _, inputs = producer_inputs(reader, stable.pushed_model_id)
    blessings = inputs.get("model_blessing", [])
    if not blessings or int_property(blessings[0], "blessed") != 1:
        raise LookupError(f"version {stable.version} is not blessed by the Evaluator in ML Metadata: not used to predict")
    return stable, reader.artifacts_by_id([stable.model_id])[stable.model_id].uri


def format_versions(pipeline_name: str, versions: list[ModelVersion], state=None) -> str:
    """`state`: the latest rollout's ServingState, for the canary's share."""
    import datetime

    def width(name: str) -> int:
        return max(12, len(name) + 2)

    if not versions:
        return f"Pipeline {pipeline_name}: no pushed model"
    names = sorted({m for v in versions for m in v.metrics})
    skills = ["skill", "reference skill"] if any(v.reference.get("skill") is not None for v in versions) else []
    lines = [f"Pipeline {pipeline_name}: {len(versions)} push{'es' if len(versions) > 1 else ''}", "",
             "  " + f"{'version':<9} {'labels':<14} {'pushed at':<19} "
             + "".join(f"{n:>{width(n)}}" for n in names + skills) + "  serving path"]
    for v in versions:
        when = datetime.datetime.fromtimestamp(v.pushed_at).strftime("%Y-%m-%d %H:%M:%S")
        metrics = "".join(value_text(v.metrics.get(n), width(n)) for n in names)
        if skills:
            gap = reference_model.gap(v.metrics, v.reference) if v.reference.get("reference") else None
            metrics += "".join(value_text(value, width(n)) for n, value in
                               zip(skills, (gap[1], gap[2]) if gap else (None, v.reference.get("skill"))))
        notes = f"  (infra-validated on {v.infra_platform})" if v.infra_platform else ""
        if v.forgotten_by:
            notes += f"  HOLDS FORGOTTEN ROWS (forget request {v.forgotten_by})"
        mark = "* " if v.served else "  "
        labels = ",".join(v.labels) or "-"
        lines.append(f"{mark}{v.version:<9} {labels:<14} {when:<19} {metrics}  {v.serving_path}{notes}")
    lines += ["", "* served as stable (the latest rollout's labels; before any, the highest version folder); every "
                  "push was blessed by the Evaluator and the InfraValidator"]
    if skills:
        lines.append("skill: 0 the trivial model, 1 a perfect one; reference: gradient-boosted trees on the same rows")
    holding = [v.version for v in versions if v.forgotten_by]
    if holding:
        lines.append(f"trained on rows forgotten since (mlops forget): {', '.join(holding)}; a new run trains without "
                     "them (`mlops forget --retrain`, or `mlops run`), and rolling back to these versions serves them")
    if state is not None and state.canary is not None:
        lines.append(f"canary: {state.percent}% of keyed requests" + (" answered by it" if state.mode == "canary" else
                                                                      " copied to it (shadow; stable answers)"))
    return "\n".join(lines)
