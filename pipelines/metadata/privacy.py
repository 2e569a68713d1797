"""Forget requests in ML Metadata, and what held the forgotten rows.

`mlops forget` records an `mlops.ForgetRequest` execution in the pipeline's context: the ID column, the
pseudonyms of the IDs to forget (never the IDs), and as inputs every artifact that held their rows. Those
are found by lookup, not by scanning data: ExampleGen writes, in each Examples artifact, the ID pseudonyms of
each span it ingested (pipelines/shared/pseudonyms.py); the Examples whose index holds one of them, and
everything derived from those Examples, are the holders. Examples (ExampleGen's and Transform's) are
marked DELETED (TFX's cache reuses LIVE artifacts only) and their files removed but for the index; models
and pushed models are marked with the request's id, so that `mlops models` and the report say which
versions still contain forgotten rows until they are replaced. ExampleGen leaves the forgotten rows out of
every later ingestion: the runner reads the pseudonyms back from here.
"""
from __future__ import annotations

import getpass
import json
import time
from dataclasses import dataclass, field
from typing import Optional

from ml_metadata.proto import metadata_store_pb2

from pipelines.metadata import records
from pipelines.metadata.lineage import FORGET_TYPE
from pipelines.metadata.reader import INPUT_EVENTS, OUTPUT_EVENTS, MetadataReader, event_key, int_property, string_property
from pipelines.shared import artifact_files, pseudonyms
from pipelines.shared.pseudonyms import FORGOTTEN_BY


@dataclass
class Holders:
    """What held the rows of the IDs looked up; spans: {Examples artifact id: {span: pseudonyms held}}."""
    spans: dict[int, dict[int, list[str]]] = field(default_factory=dict)
    examples: list = field(default_factory=list)       # MLMD artifacts: ExampleGen's and Transform's
    models: list = field(default_factory=list)
    pushed_models: list = field(default_factory=list)

    @property
    def all(self) -> list:
        return self.examples + self.models + self.pushed_models

    @property
    def found(self) -> set[str]:
        return {p for by_span in self.spans.values() for held in by_span.values() for p in held}


def forget_requests(reader: MetadataReader) -> list:
    """The pipeline's forget requests, oldest first."""
    ids = {e.id for e in reader.store.get_executions_by_type(FORGET_TYPE)}
    return [e for e in reader.pipeline_executions() if e.id in ids]


def forgotten_pseudonyms(reader: MetadataReader) -> list[str]:
    """Every pseudonym ever forgotten for this pipeline, sorted (what ExampleGen leaves out)."""
    found: set[str] = set()
    for request in forget_requests(reader):
        found.update(json.loads(request.properties["pseudonyms"].string_value))
    return sorted(found)


def find_holders(reader: MetadataReader, wanted: set[str]) -> Holders:
    """The Examples whose per-span index holds one of `wanted`, and the examples, models and pushed models
    made from them (trained_on). Examples deleted by an earlier request keep their index, so a later request
    still finds the models trained on them."""
    holders = Holders()
    for artifact in reader.pipeline_artifacts():
        if reader.artifact_type(artifact) != "Examples":  # deleted ones too: their index is kept
            continue
        held = pseudonyms.spans_holding(artifact.uri, wanted)
        if held:
            holders.spans[artifact.id] = held
    if not holders.spans:
        return holders
    for artifact in trained_on(reader, sorted(holders.spans)):
        kind = reader.artifact_type(artifact)
        if kind == "Examples":
            holders.examples.append(artifact)
        elif kind == "Model":
            holders.models.append(artifact)
        elif kind == "PushedModel" and int_property(artifact, "pushed") == 1:
            holders.pushed_models.append(artifact)
    return holders


# What carries rows on: an execution that read them as its `examples` (Transform, the Trainer) or read a
# model trained on them as its `model` (the Pusher), and wrote examples, a model or a pushed model. Not the
# Evaluator's `baseline_model`, nor the checks: a later model compared with this one did not learn its rows.
CARRIED_BY = ("examples", "model")
HOLDER_TYPES = ("Examples", "Model", "PushedModel")


def trained_on(reader: MetadataReader, examples_ids: list[int]) -> list:
    """The given Examples, and every Examples, Model and PushedModel made from them."""
    store = reader.store
    found = reader.artifacts_by_id(examples_ids)
    frontier = list(examples_ids)
    while frontier:
        reads = [e for e in store.get_events_by_artifact_ids(frontier)
                 if e.type in INPUT_EVENTS and event_key(e) in CARRIED_BY]
        writes = [e for e in store.get_events_by_execution_ids(sorted({e.execution_id for e in reads}))
                  if e.type in OUTPUT_EVENTS and e.artifact_id not in found]
        new = reader.artifacts_by_id(sorted({e.artifact_id for e in writes}))
        new = {i: a for i, a in new.items() if reader.artifact_type(a) in HOLDER_TYPES}
        found.update(new)
        frontier = sorted(new)
    return [found[i] for i in sorted(found)]


def record_forget_request(reader: MetadataReader, id_column: str, wanted: list[str], holders: Holders,
                          key_id: str = "", supersedes: tuple[int, ...] = ()) -> int:
    """The request as an execution (holders as inputs), recorded RUNNING first: the intent survives a crash,
    and finish_forget_request (run again by the next `mlops run` or `forget` when this process dies) marks
    the holders, removes the files and marks it COMPLETE. Returns the request's execution id."""
    inputs = {f"{kind_key(reader, a)}_{a.id}": a for a in holders.all}
    request_id = records.record_execution(
        reader, FORGET_TYPE,
        {"id_column": id_column, "pseudonyms": json.dumps(sorted(wanted)), "user": getpass.getuser(),
         "requested_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        inputs, {}, custom_properties={"ids_found": len(holders.found), "holders": len(holders.all), "key_id": key_id,
                                       "supersedes": ",".join(map(str, supersedes))},
        state=metadata_store_pb2.Execution.RUNNING)
    finish_forget_request(reader, request_id)
    return request_id


def finish_forget_request(reader: MetadataReader, request_id: int) -> Holders:
    """Everything a request asks, idempotent: its holders (found again: a run may have made more since)
    marked with the request's id, their Examples' files removed and marked DELETED, the scoring pipeline's
    copies of the rows removed (scoring_copies), then the request COMPLETE."""
    (request,) = reader.store.get_executions_by_id([request_id])
    wanted = set(json.loads(request.properties["pseudonyms"].string_value))
    holders = find_holders(reader, wanted)
    copies = scoring_copies(reader, wanted, request_id)
    # ML Metadata first, then the files: killed in between, the next finish finds the same artifacts again
    # (by their index, or as marked by this request) and removes what is left.
    for artifact in holders.all + copies:
        earlier = [r for r in (string_property(artifact, FORGOTTEN_BY) or "").split(",") if r]
        if str(request_id) not in earlier:
            artifact.custom_properties[FORGOTTEN_BY].string_value = ",".join([*earlier, str(request_id)])
    for artifact in holders.examples + copies:
        artifact.state = metadata_store_pb2.Artifact.DELETED
    if holders.all or copies:
        reader.store.put_artifacts(holders.all + copies)
    for artifact in holders.examples:
        remove_rows(artifact.uri)
    for artifact in copies:
        if artifact_files.exists(artifact.uri):  # removed already when a finish was killed after it
            artifact_files.remove_tree(artifact.uri)
    request.last_known_state = metadata_store_pb2.Execution.COMPLETE
    request.custom_properties["scoring_copies_removed"].int_value = len(copies)
    reader.store.put_executions([request])
    return holders


def requests_under_other_keys(reader: MetadataReader, key_id: str) -> list[int]:
    """Requests made under another pseudonym key and not issued again under this one (`--supersedes`): under
    this key their pseudonyms match nobody, so a run would train on those people again."""
    requests = forget_requests(reader)
    superseded = {int(i) for r in requests if string_property(r, "key_id") == key_id
                  for i in (string_property(r, "supersedes") or "").split(",") if i}
    return [r.id for r in requests if string_property(r, "key_id") not in ("", None, key_id) and r.id not in superseded]


def unfinished_forget_requests(reader: MetadataReader) -> list[int]:
    """Requests recorded but not carried out (their process died between the two): what the next run finishes."""
    return [e.id for e in forget_requests(reader) if e.last_known_state == metadata_store_pb2.Execution.RUNNING]


SCORING_TYPES = ("Examples", "InferenceResult")  # `mlops predict`'s examples and BulkInferrer's results


def scoring_copies(reader: MetadataReader, wanted: set[str], request_id: int) -> list:
    """The scoring pipeline's (`<name>-inference`: `mlops predict`) Examples and InferenceResults that hold
    scored rows of a forgotten person (their features, and the ID's pseudonym): live ones whose records hold
    one of the pseudonyms (as ExampleGen wrote them), and those this request marked already."""
    scoring = MetadataReader(reader.store, f"{reader.pipeline_name}-inference")
    if scoring.pipeline_context is None:
        return []
    needles = [w.encode() for w in wanted]
    found = []
    for artifact in scoring.pipeline_artifacts():
        if scoring.artifact_type(artifact) not in SCORING_TYPES:
            continue
        marked = str(request_id) in (string_property(artifact, FORGOTTEN_BY) or "").split(",")
        if marked or (artifact.state == metadata_store_pb2.Artifact.LIVE and holds_any(artifact.uri, needles)):
            found.append(artifact)
    return found


def holds_any(uri: str, needles: list[bytes]) -> bool:
    """Whether a gzipped TFRecord file of `uri` (an InferenceResult's own, or an Examples' split folders) holds
    one of `needles` (the pseudonyms, as written)."""
    import gzip

    for path in artifact_files.glob(f"{uri.rstrip('/')}/*/*.gz") + artifact_files.glob(f"{uri.rstrip('/')}/*.gz"):
        with artifact_files.open_file(path, "rb") as f:
            data = gzip.decompress(f.read())
        if any(needle in data for needle in needles):
            return True
    return False


def remove_rows(examples_uri: str) -> None:
    """Every file of an Examples artifact but its pseudonym index (pseudonyms only; later requests look it up)."""
    if not artifact_files.exists(examples_uri):
        return
    for name in artifact_files.listdir(examples_uri):
        if name.rstrip("/") != pseudonyms.INDEX_DIR:
            artifact_files.remove_tree(f"{examples_uri.rstrip('/')}/{name.rstrip('/')}")


def kind_key(reader: MetadataReader, artifact) -> str:
    return {"Examples": "examples", "Model": "model", "PushedModel": "pushed_model"}.get(reader.artifact_type(artifact),
                                                                                      "artifact")


def forgotten_by(artifact) -> Optional[str]:
    """The forget requests (execution ids, comma-separated) whose rows this artifact held; None: none."""
    return string_property(artifact, FORGOTTEN_BY) or None
