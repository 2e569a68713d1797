"""The queries every ML Metadata reader shares: a pipeline's runs, a run's executions, the artifacts
each step read and wrote by key, who produced an artifact, node names and typed properties.

TFX records a pipeline as a `pipeline` context, each run as a `pipeline_run` child context, each
component's executions in a `node` context named `<pipeline>.<node id>`, and links executions to
artifacts with events whose path's first step is the input or output key ("examples", "model").
"""
from __future__ import annotations

from functools import cached_property
from typing import Any, Optional

from ml_metadata.proto import metadata_store_pb2

Event = metadata_store_pb2.Event
INPUT_EVENTS = (Event.INPUT, Event.DECLARED_INPUT)
OUTPUT_EVENTS = (Event.OUTPUT, Event.DECLARED_OUTPUT)

EXECUTION_STATES = {
    metadata_store_pb2.Execution.COMPLETE: "complete",
    metadata_store_pb2.Execution.CACHED: "cached",
    metadata_store_pb2.Execution.FAILED: "failed",
    metadata_store_pb2.Execution.RUNNING: "running",
    metadata_store_pb2.Execution.CANCELED: "canceled",
    metadata_store_pb2.Execution.NEW: "new",
}


class MetadataReader:
    """One pipeline's view of an ML Metadata store (SQLite or MySQL alike)."""

    def __init__(self, store, pipeline_name: str):
        self.store, self.pipeline_name = store, pipeline_name

    # --- the pipeline and its runs ---------------------------------------------

    @cached_property
    def pipeline_context(self):
        return self.store.get_context_by_type_and_name("pipeline", self.pipeline_name)

    def run_contexts(self) -> list:
        """The pipeline's run contexts, oldest first."""
        if self.pipeline_context is None:
            return []
        # TFX makes each run context a child of its pipeline's: one query, also in a store many pipelines share.
        runs = [c for c in self.store.get_children_contexts_by_context(self.pipeline_context.id)
                if c.type == "pipeline_run"]
        return sorted(runs, key=lambda c: c.id)

    def latest_run_id(self) -> Optional[str]:
        runs = self.run_contexts()
        return runs[-1].name if runs else None

    def run_executions(self, run_id: str) -> list:
        """A run's executions in the order they started; LookupError for an unknown run."""
        run = self.store.get_context_by_type_and_name("pipeline_run", run_id)
        if run is None:
            raise LookupError(f"no run {run_id!r} of pipeline {self.pipeline_name!r} in ML Metadata")
        return sorted(self.store.get_executions_by_context(run.id), key=lambda e: e.id)

    def pipeline_executions(self) -> list:
        """Every execution of the pipeline, all runs, oldest first."""
        if self.pipeline_context is None:
            return []
        return sorted(self.store.get_executions_by_context(self.pipeline_context.id), key=lambda e: e.id)

    def pipeline_artifacts(self) -> list:
        if self.pipeline_context is None:
            return []
        return sorted(self.store.get_artifacts_by_context(self.pipeline_context.id), key=lambda a: a.id)

    # --- executions and their artifacts -----------------------------------------

    def node_name(self, execution) -> str:
        """The component id that ran an execution (e.g. "Trainer"), or its type for one recorded outside TFX."""
        name = self._context_name(execution, "node")
        if name is None:
            return self.execution_type(execution)
        prefix = self.pipeline_name + "."
        return name[len(prefix):] if name.startswith(prefix) else name

    def run_id(self, execution) -> Optional[str]:
        """The run an execution belongs to."""
        return self._context_name(execution, "pipeline_run")

    def _context_name(self, execution, context_type: str) -> Optional[str]:
        return next((c.name for c in self.store.get_contexts_by_execution(execution.id) if c.type == context_type),
                    None)

    def outputs_by_key(self, execution_ids: list[int]) -> dict[int, dict[str, list]]:
        """execution id -> output key -> artifacts, in one query for the events and one for the artifacts."""
        return self._artifacts_by_key(execution_ids, OUTPUT_EVENTS)

    def inputs_by_key(self, execution_ids: list[int]) -> dict[int, dict[str, list]]:
        return self._artifacts_by_key(execution_ids, INPUT_EVENTS)

    def outputs_of(self, execution_id: int) -> dict[str, list]:
        """One execution's outputs by key."""
        return self.outputs_by_key([execution_id]).get(execution_id, {})

    def inputs_of(self, execution_id: int) -> dict[str, list]:
        return self.inputs_by_key([execution_id]).get(execution_id, {})

    def _artifacts_by_key(self, execution_ids: list[int], kinds: tuple) -> dict[int, dict[str, list]]:
        events = [e for e in self.store.get_events_by_execution_ids(list(execution_ids)) if e.type in kinds]
        artifacts = self.artifacts_by_id(e.artifact_id for e in events)
        result: dict[int, dict[str, list]] = {}
        for event in events:
            result.setdefault(event.execution_id, {}).setdefault(event_key(event), []).append(
                artifacts[event.artifact_id])
        return result

    def producer(self, artifact_id: int):
        """The execution that wrote an artifact, or None."""
        events = [e for e in self.store.get_events_by_artifact_ids([artifact_id]) if e.type in OUTPUT_EVENTS]
        return self.store.get_executions_by_id([events[0].execution_id])[0] if events else None

    def consumers(self, artifact_id: int) -> list:
        """The executions that read an artifact, oldest first."""
        events = [e for e in self.store.get_events_by_artifact_ids([artifact_id]) if e.type in INPUT_EVENTS]
        ids = sorted({e.execution_id for e in events})
        return self.store.get_executions_by_id(ids) if ids else []

    def artifacts_by_id(self, artifact_ids) -> dict[int, Any]:
        ids = sorted(set(artifact_ids))
        return {a.id: a for a in self.store.get_artifacts_by_id(ids)} if ids else {}

    # --- type names -------------------------------------------------------------

    @cached_property
    def _artifact_types(self) -> dict[int, str]:
        return {t.id: t.name for t in self.store.get_artifact_types()}

    @cached_property
    def _execution_types(self) -> dict[int, str]:
        return {t.id: t.name for t in self.store.get_execution_types()}

    def artifact_type(self, artifact) -> str:
        return self._artifact_types.get(artifact.type_id, "?")

    def execution_type(self, execution) -> str:
        return self._execution_types.get(execution.type_id, "?")

    def execution_type_names(self) -> list[str]:
        return list(self._execution_types.values())


def event_key(event) -> str:
    """The input or output key an event links through ("examples", "model", ...)."""
    return event.path.steps[0].key if event.path.steps else ""


def execution_state(execution) -> str:
    return EXECUTION_STATES.get(execution.last_known_state, "unknown")


def execution_seconds(execution) -> float:
    return (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000


# --- typed access to properties (artifacts and executions alike) -------------------


def int_property(item, name: str) -> Optional[int]:
    value = item.custom_properties.get(name)
    return value.int_value if value is not None else None


def string_property(item, name: str) -> Optional[str]:
    value = item.custom_properties.get(name)
    return value.string_value if value is not None else None


def spans_of(examples) -> str:
    """The span(s) an Examples artifact holds: "3", or "1,2,3" for a training window; "" for data without
    {SPAN} in its pattern (ExampleGen sets its `spans` property only for spans)."""
    return string_property(examples, "spans") or ""


def plain_value(value):
    """An MLMD Value as a Python scalar; None for structs and protos."""
    which = value.WhichOneof("value")
    return getattr(value, which) if which in ("int_value", "double_value", "string_value", "bool_value") else None
