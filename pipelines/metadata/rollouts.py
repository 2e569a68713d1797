"""Rollouts recorded in ML Metadata: each `mlops serve` start with new labels, canary, promote, abort and
rollback is a `mlops.Rollout` execution in the pipeline's context, with who ran it, the labels after it
(version folder numbers), the canary's traffic share and mode, and the PushedModels it serves as inputs
keyed by label. The latest one is what the server serves: `mlops models` shows its labels, lineage shows
a pushed model's rollouts, and clients read the canary's share from it."""
from __future__ import annotations

import getpass
import json
from typing import Optional

from pipelines.metadata import records
from pipelines.metadata.reader import MetadataReader
from pipelines.shared.version_labels import ServingState

ROLLOUT_TYPE = "mlops.Rollout"


def rollout_executions(reader: MetadataReader) -> list:
    """The pipeline's rollouts, oldest first (by type name in the store: the reader's type cache may predate them)."""
    rollout_ids = {e.id for e in reader.store.get_executions_by_type(ROLLOUT_TYPE)}
    return [e for e in reader.pipeline_executions() if e.id in rollout_ids]


def state_of(execution) -> ServingState:
    labels = {label: int(number) for label, number in json.loads(execution.properties["labels"].string_value).items()}
    return ServingState(labels, execution.properties["percent"].int_value, execution.properties["mode"].string_value)


def current_state(reader: MetadataReader) -> Optional[ServingState]:
    """What the latest rollout left served; None when nothing was ever served with labels."""
    executions = rollout_executions(reader)
    return state_of(executions[-1]) if executions else None


def record_rollout(reader: MetadataReader, action: str, state: ServingState, pushed_by_label: dict) -> int:
    """`pushed_by_label`: label -> the PushedModel artifact (MLMD proto) it points at."""
    properties = {"action": action, "labels": json.dumps(state.labels, sort_keys=True), "percent": state.percent,
                  "mode": state.mode, "user": getpass.getuser()}
    return records.record_execution(reader, ROLLOUT_TYPE, properties, pushed_by_label, {})
