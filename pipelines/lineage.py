"""Lineage read from ML Metadata's events: what an artifact came from, and what came from an input.

A graph of artifacts and executions; edges follow the data (artifact -> execution that read it,
execution -> artifact it wrote). Text tree, JSON and Graphviz dot views.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional

from ml_metadata.proto import metadata_store_pb2

INPUTS = (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)
OUTPUTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
# Checks made on the examples: shown beside the chain from a model back to its input.
CHECK_TYPES = ("ExampleStatistics", "ExampleAnomalies")


@dataclass
class Node:
    key: str           # "a12" (artifact 12) or "e7" (execution 7)
    kind: str          # artifact | execution
    type: str          # Examples, Model, ... or the component's executor type
    name: str          # component id for executions; output key for artifacts
    uri: str = ""
    properties: dict = field(default_factory=dict)

    @property
    def id(self) -> int:
        return int(self.key[1:])


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)  # (from, to) in the direction data flows

    def inputs_of(self, key: str) -> list[str]:
        return sorted((a for a, b in self.edges if b == key), key=lambda k: self.nodes[k].id)

    def to_json(self) -> str:
        return json.dumps({"nodes": [vars(n) for n in sorted(self.nodes.values(), key=lambda n: n.key)],
                           "edges": sorted([list(e) for e in self.edges])}, indent=2, default=str)

    def to_dot(self) -> str:
        lines = ["digraph lineage {", "  rankdir=LR;"]
        for node in sorted(self.nodes.values(), key=lambda n: n.key):
            shape = "box" if node.kind == "execution" else "ellipse"
            lines.append(f'  {node.key} [shape={shape}, label="{label(node)}"];')
        lines += [f"  {a} -> {b};" for a, b in sorted(self.edges)]
        return "\n".join(lines + ["}"])


def label(node: Node) -> str:
    if node.kind == "execution":
        return f"{node.name} (execution {node.id})"
    return f"{node.type} {node.id}"


class Reader:
    """Cached MLMD reads for one traversal."""

    def __init__(self, store, pipeline_name: str):
        self.store, self.pipeline = store, pipeline_name
        self.artifact_types = {t.id: t.name for t in store.get_artifact_types()}
        self.execution_types = {t.id: t.name for t in store.get_execution_types()}

    def artifact_node(self, artifact) -> Node:
        properties = {k: _value(v) for k, v in artifact.custom_properties.items()
                      if _value(v) is not None and k in ("span", "version", "input_fingerprint", "pushed", "pushed_destination", "blessed",
                               "platform", "reason", "pushed_version", "rollback_of", "state")}
        return Node(f"a{artifact.id}", "artifact", self.artifact_types.get(artifact.type_id, "?"), "", artifact.uri,
                    properties)

    def artifact_nodes(self, artifact_ids) -> dict[str, Node]:
        """Nodes by key for the artifacts, in one MLMD query."""
        ids = sorted(set(artifact_ids))
        return {f"a{a.id}": self.artifact_node(a) for a in self.store.get_artifacts_by_id(ids)} if ids else {}

    def execution_node(self, execution) -> Node:
        name = self.execution_types.get(execution.type_id, "?")
        for context in self.store.get_contexts_by_execution(execution.id):
            if context.type == "node":
                name = context.name.split(".", 1)[-1]
        properties = {k: _value(v) for k, v in execution.custom_properties.items()
                      if k in ("input_base", "input_fingerprint", "span")}
        return Node(f"e{execution.id}", "execution", self.execution_types.get(execution.type_id, "?"), name, "",
                    properties)


def _value(value):
    which = value.WhichOneof("value")
    return getattr(value, which) if which in ("int_value", "double_value", "string_value", "bool_value") else None


def upstream(store, pipeline_name: str, artifact_id: int) -> Graph:
    """Everything an artifact was made from, back to ExampleGen's input, and the checks on the examples."""
    reader, graph = Reader(store, pipeline_name), Graph()
    frontier = [artifact_id]
    while frontier:
        graph.nodes.update(reader.artifact_nodes(frontier))
        producers = [e for e in store.get_events_by_artifact_ids(frontier) if e.type in OUTPUTS]
        frontier = []
        for event in producers:
            graph.edges.add((f"e{event.execution_id}", f"a{event.artifact_id}"))
            _name_artifact(graph, event)
        execution_ids = sorted({e.execution_id for e in producers} - {n.id for n in graph.nodes.values()
                                                                        if n.kind == "execution"})
        for execution in store.get_executions_by_id(execution_ids):
            graph.nodes[f"e{execution.id}"] = reader.execution_node(execution)
        events = store.get_events_by_execution_ids(execution_ids)
        for event in events:
            if event.type in INPUTS:
                graph.edges.add((f"a{event.artifact_id}", f"e{event.execution_id}"))
                if f"a{event.artifact_id}" not in graph.nodes:
                    frontier.append(event.artifact_id)
        # The producers' other outputs, e.g. the evaluation beside the blessing.
        siblings = [e for e in events if e.type in OUTPUTS and f"a{e.artifact_id}" not in graph.nodes]
        graph.nodes.update(reader.artifact_nodes([e.artifact_id for e in siblings]))
        for event in siblings:
            graph.edges.add((f"e{event.execution_id}", f"a{event.artifact_id}"))
            _name_artifact(graph, event)
        frontier = sorted(set(frontier))
    examples = [n.id for n in graph.nodes.values() if n.type == "Examples"]
    if examples:
        _merge(graph, downstream(store, pipeline_name, examples, keep_types=CHECK_TYPES))
    return graph


def downstream(store, pipeline_name: str, artifact_ids: list[int], keep_types: Optional[tuple] = None) -> Graph:
    """Everything derived from the artifacts; with keep_types, only paths to artifacts of those types."""
    reader, graph = Reader(store, pipeline_name), Graph()
    graph.nodes.update(reader.artifact_nodes(artifact_ids))
    frontier, seen_executions = list(artifact_ids), set()
    while frontier:
        consumers = [e for e in store.get_events_by_artifact_ids(frontier) if e.type in INPUTS]
        execution_ids = sorted({e.execution_id for e in consumers} - seen_executions)
        seen_executions.update(execution_ids)
        for event in consumers:
            graph.edges.add((f"a{event.artifact_id}", f"e{event.execution_id}"))
        for execution in store.get_executions_by_id(execution_ids):
            graph.nodes[f"e{execution.id}"] = reader.execution_node(execution)
        outputs = [e for e in store.get_events_by_execution_ids(execution_ids) if e.type in OUTPUTS]
        new = reader.artifact_nodes([e.artifact_id for e in outputs if f"a{e.artifact_id}" not in graph.nodes])
        graph.nodes.update(new)
        frontier = sorted(node.id for node in new.values())
        for event in outputs:
            graph.edges.add((f"e{event.execution_id}", f"a{event.artifact_id}"))
            _name_artifact(graph, event)
    if keep_types:
        _keep_paths_to(graph, keep_types)
    return graph


def _name_artifact(graph: Graph, event) -> None:
    node = graph.nodes.get(f"a{event.artifact_id}")
    if node is not None and not node.name and event.path.steps:
        node.name = event.path.steps[0].key


def _merge(graph: Graph, other: Graph) -> None:
    for key, node in other.nodes.items():
        graph.nodes.setdefault(key, node)
    graph.edges |= other.edges


def _keep_paths_to(graph: Graph, types: tuple) -> None:
    keep = {k for k, n in graph.nodes.items() if n.type in types}
    changed = True
    while changed:
        before = len(keep)
        keep |= {a for a, b in graph.edges if b in keep}
        changed = len(keep) != before
    graph.nodes = {k: n for k, n in graph.nodes.items() if k in keep}
    graph.edges = {(a, b) for a, b in graph.edges if a in keep and b in keep}


def format_tree(graph: Graph, root: str) -> str:
    """The chain from `root` back to the input, one level per producer; shared inputs shown once."""
    lines, shown = [], set()

    def describe(node: Node) -> str:
        if node.kind == "execution":
            extra = "".join(f"  {k}={v}" for k, v in node.properties.items())
            return f"<- {node.name} (execution {node.id}){extra}"
        props = "  " + ", ".join(f"{k}={v}" for k, v in node.properties.items()) if node.properties else ""
        return f"{node.type} {node.id} [{node.name}] {node.uri}{props}"

    def walk(key: str, depth: int) -> None:
        node = graph.nodes[key]
        repeat = key in shown and node.kind == "artifact"
        lines.append("  " * depth + describe(node) + (" (above)" if repeat else ""))
        if repeat:
            return
        shown.add(key)
        for parent in graph.inputs_of(key):
            walk(parent, depth + 1)

    walk(root, 0)
    checks = [n for n in graph.nodes.values() if n.type in CHECK_TYPES]
    if checks:
        lines += ["", "Checks on the examples:"]
        lines += [f"  {describe(n)}" for n in sorted(checks, key=lambda n: n.id)]
    siblings = [n for n in graph.nodes.values() if n.kind == "artifact" and n.type == "ModelEvaluation"]
    if siblings:
        lines += ["", "Evaluation:"] + [f"  {describe(n)}" for n in siblings]
    return "\n".join(lines)


def from_data(store, pipeline_name: str, path: str) -> Graph:
    """Everything derived from an input file or folder (what a deletion request must reach)."""
    import fnmatch
    import os

    path = os.path.abspath(path)
    reader = Reader(store, pipeline_name)
    examples = []
    for execution in store.get_executions_by_type(next(
            (name for name in reader.execution_types.values() if name.endswith("FileBasedExampleGen")), "")):
        base = execution.custom_properties.get("input_base")
        base = base.string_value if base is not None else ""
        if not base:
            continue
        inside = path == base or os.path.dirname(path) == base or path.startswith(base.rstrip("/") + "/")
        if inside or fnmatch.fnmatch(path, os.path.join(base, "*")):
            events = store.get_events_by_execution_ids([execution.id])
            examples += [e.artifact_id for e in events if e.type in OUTPUTS]
    return downstream(store, pipeline_name, sorted(set(examples))) if examples else Graph()
