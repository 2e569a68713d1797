"""What a killed run leaves behind, cleaned up: executions still RUNNING (or NEW) in ML Metadata and the
partial outputs they wrote.

TFX's LocalDagRunner never looks back: the next run executes the step again, but the killed execution
stays RUNNING forever and its folders stay on disk. recover() marks such executions CANCELED and
removes their folders. Its caller makes sure no other process is running the pipeline (runners/run_lock.py).
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field

from ml_metadata.proto import metadata_store_pb2

from pipelines.metadata.lineage import FORGET_TYPE
from pipelines.metadata.reader import MetadataReader, string_property

Execution, Artifact = metadata_store_pb2.Execution, metadata_store_pb2.Artifact
UNFINISHED = (Execution.RUNNING, Execution.NEW)
SYSTEM = ".system"  # TFX's per-node folder for executor outputs, temp and stateful working dirs
STATEFUL_WORKING_DIR_INDEX = "__stateful_working_dir_index__"  # the execution property TFX names it by
CANCEL_REASON = "cancel_reason"


@dataclass
class Recovered:
    run_id: str
    node: str
    execution_id: int
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # partial outputs an artifact still points to


def partial_outputs(node_dir: str, execution) -> list[str]:
    """The folders TFX's launcher makes for one execution of a node: <key>/<execution id> per output,
    .system/executor_execution/<execution id>, and its stateful working dir; those that exist."""
    if not os.path.isdir(node_dir):
        return []
    candidates = [os.path.join(node_dir, key, str(execution.id)) for key in sorted(os.listdir(node_dir)) if key != SYSTEM]
    candidates.append(os.path.join(node_dir, SYSTEM, "executor_execution", str(execution.id)))
    index = string_property(execution, STATEFUL_WORKING_DIR_INDEX)
    if index:
        candidates.append(os.path.join(node_dir, SYSTEM, "stateful_working_dir", index))
    return [path for path in candidates if os.path.isdir(path)]


def live_artifact_under(store, folder: str) -> bool:
    """Whether a LIVE artifact's URI is this folder or its value file (TFX's ValueArtifacts)."""
    return any(a.state == Artifact.LIVE for uri in (folder, os.path.join(folder, "value"))
               for a in store.get_artifacts_by_uri(uri))


def recover(store, reader: MetadataReader, pipeline_root: str, serving_dir: str, store_is_ours: bool) -> list[Recovered]:
    """Marks the pipeline's unfinished executions CANCELED and removes their partial outputs; returns them.

    An execution counts as this machine's when its folders exist under `pipeline_root`, or when the
    store is ours alone (SQLite): in a store a team shares, another machine's run is left to that machine.
    Call it only when no other process runs the pipeline on this pipeline root.
    """
    from pipelines.shared import component_ids as ids
    from pipelines.shared.serving_layout import STAGING

    recovered = []
    forgets = {e.id for e in store.get_executions_by_type(FORGET_TYPE)}
    for execution in reader.pipeline_executions():
        if execution.last_known_state not in UNFINISHED or execution.id in forgets:  # finished, not canceled
            continue
        node = reader.node_name(execution)
        folders = partial_outputs(os.path.join(pipeline_root, node), execution)
        if not folders and not store_is_ours:
            continue
        item = Recovered(reader.run_id(execution) or "?", node, execution.id)
        for folder in folders:
            if live_artifact_under(store, folder):
                item.kept.append(folder)
            else:
                shutil.rmtree(folder, ignore_errors=True)
                item.removed.append(folder)
        if node == ids.PUSHER:  # a version staged but never published
            staging = os.path.join(serving_dir, STAGING)
            if os.path.isdir(staging):
                shutil.rmtree(staging, ignore_errors=True)
                item.removed.append(staging)
        execution.last_known_state = Execution.CANCELED
        execution.custom_properties[CANCEL_REASON].string_value = (
            f"interrupted: its process ended without finishing it; recovered by pid {os.getpid()} at "
            f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
        store.put_executions([execution])
        recovered.append(item)
    return recovered


def describe(recovered: list[Recovered]) -> list[str]:
    """One line per interrupted run, for the terminal."""
    lines = []
    for run_id in dict.fromkeys(r.run_id for r in recovered):
        items = [r for r in recovered if r.run_id == run_id]
        steps = ", ".join(f"{r.node} (execution {r.execution_id})" for r in items)
        removed = sum(len(r.removed) for r in items)
        kept = [k for r in items for k in r.kept]
        line = f"Recovered interrupted run {run_id}: {steps} marked canceled, {removed} partial folders removed"
        lines.append(line + (f"; kept {', '.join(kept)} (an artifact points to it)" if kept else ""))
    return lines
