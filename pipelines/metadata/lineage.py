"""Lineage read from ML Metadata's events: what an artifact came from, and what came from an input.

A graph of artifacts and executions; edges follow the data (artifact -> execution that read it,
execution -> artifact it wrote). Text tree, JSON and Graphviz dot views.
"""
from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass, field
from typing import Optional

from pipelines.metadata.reader import INPUT_EVENTS, OUTPUT_EVENTS, MetadataReader, event_key, plain_value
from pipelines.metadata.rollouts import ROLLOUT_TYPE

# Properties shown on the nodes (the rest is TFX's bookkeeping).
ARTIFACT_PROPERTIES = ("span", "spans", "version", "input_fingerprint", "pushed", "pushed_destination", "blessed",
                       "platform", "reason", "pushed_version", "rollback_of", "state", "drifted", "served_version",
                       "forgotten_by")
EXECUTION_PROPERTIES = ("input_base", "input_fingerprint", "span")
ROLLOUT_PROPERTIES = ("action", "labels", "mode", "percent", "user")
FORGET_TYPE = "mlops.ForgetRequest"  # `mlops forget` (pipelines/metadata/privacy.py)
FORGET_PROPERTIES = ("id_column", "user", "requested_at")
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


def artifact_nodes(reader: MetadataReader, artifact_ids) -> dict[str, Node]:
    """Nodes by key for the artifacts, in one MLMD query."""
    nodes = {}
    for artifact in reader.artifacts_by_id(artifact_ids).values():
        properties = {k: plain_value(v) for k, v in artifact.custom_properties.items()
                      if k in ARTIFACT_PROPERTIES and plain_value(v) is not None}
        nodes[f"a{artifact.id}"] = Node(f"a{artifact.id}", "artifact", reader.artifact_type(artifact), "",
                                        artifact.uri, properties)
    return nodes


def execution_node(reader: MetadataReader, execution) -> Node:
    properties = {k: plain_value(v) for k, v in execution.custom_properties.items() if k in EXECUTION_PROPERTIES}
    recorded_here = {ROLLOUT_TYPE: ROLLOUT_PROPERTIES, FORGET_TYPE: FORGET_PROPERTIES}.get(reader.execution_type(execution))
    if recorded_here:  # recorded by `mlops serve`/`rollout`/`forget`: typed properties
        properties = {k: plain_value(execution.properties[k]) for k in recorded_here if k in execution.properties}
    return Node(f"e{execution.id}", "execution", reader.execution_type(execution), reader.node_name(execution), "",
                properties)


def upstream(reader: MetadataReader, artifact_id: int) -> Graph:
    """Everything an artifact was made from, back to ExampleGen's input, and the checks on the examples."""
    store, graph = reader.store, Graph()
    frontier = [artifact_id]
    while frontier:
        graph.nodes.update(artifact_nodes(reader, frontier))
        producers = [e for e in store.get_events_by_artifact_ids(frontier) if e.type in OUTPUT_EVENTS]
        frontier = []
        for event in producers:
            _add_output_edge(graph, event)
        execution_ids = sorted({e.execution_id for e in producers} - {n.id for n in graph.nodes.values()
                                                                        if n.kind == "execution"})
        for execution in store.get_executions_by_id(execution_ids):
            graph.nodes[f"e{execution.id}"] = execution_node(reader, execution)
        events = store.get_events_by_execution_ids(execution_ids)
        for event in events:
            if event.type in INPUT_EVENTS:
                graph.edges.add((f"a{event.artifact_id}", f"e{event.execution_id}"))
                if f"a{event.artifact_id}" not in graph.nodes:
                    frontier.append(event.artifact_id)
        # The producers' other outputs, e.g. the evaluation beside the blessing.
        siblings = [e for e in events if e.type in OUTPUT_EVENTS and f"a{e.artifact_id}" not in graph.nodes]
        graph.nodes.update(artifact_nodes(reader, [e.artifact_id for e in siblings]))
        for event in siblings:
            _add_output_edge(graph, event)
        frontier = sorted(set(frontier))
    examples = [n.id for n in graph.nodes.values() if n.type == "Examples"]
    if examples:
        _merge(graph, downstream(reader, examples, keep_types=CHECK_TYPES))
    # Checks made against it once served: the drift checks of later runs, `mlops monitor`'s skew checks.
    _merge(graph, downstream(reader, [artifact_id], keep_types=CHECK_TYPES))
    # Its rollouts: each time a label was put on it (or moved while it was served); forget requests that
    # reached it or what it was made from.
    _add_consumers(reader, graph, [artifact_id], ROLLOUT_TYPE)
    _add_consumers(reader, graph, [n.id for n in graph.nodes.values() if n.kind == "artifact"], FORGET_TYPE)
    return graph


def _add_consumers(reader: MetadataReader, graph: Graph, artifact_ids: list[int], execution_type: str) -> None:
    for artifact_id in artifact_ids:
        for execution in reader.consumers(artifact_id):
            if reader.execution_type(execution) == execution_type:
                graph.nodes[f"e{execution.id}"] = execution_node(reader, execution)
                graph.edges.add((f"a{artifact_id}", f"e{execution.id}"))


def downstream(reader: MetadataReader, artifact_ids: list[int], keep_types: Optional[tuple] = None) -> Graph:
    """Everything derived from the artifacts; with keep_types, only paths to artifacts of those types."""
    store, graph = reader.store, Graph()
    graph.nodes.update(artifact_nodes(reader, artifact_ids))
    frontier, seen_executions = list(artifact_ids), set[int]()
    while frontier:
        consumers = [e for e in store.get_events_by_artifact_ids(frontier) if e.type in INPUT_EVENTS]
        execution_ids = sorted({e.execution_id for e in consumers} - seen_executions)
        seen_executions.update(execution_ids)
        for event in consumers:
            graph.edges.add((f"a{event.artifact_id}", f"e{event.execution_id}"))
        for execution in store.get_executions_by_id(execution_ids):
            graph.nodes[f"e{execution.id}"] = execution_node(reader, execution)
        outputs = [e for e in store.get_events_by_execution_ids(execution_ids) if e.type in OUTPUT_EVENTS]
        new = artifact_nodes(reader, [e.artifact_id for e in outputs if f"a{e.artifact_id}" not in graph.nodes])
        graph.nodes.update(new)
        # With keep_types, only those artifacts lead on (statistics -> validation), not, say, the Pusher's output.
        frontier = sorted(node.id for node in new.values() if not keep_types or node.type in keep_types)
        for event in outputs:
            _add_output_edge(graph, event)
    if keep_types:
        _keep_paths_to(graph, keep_types)
    return graph


def _add_output_edge(graph: Graph, event) -> None:
    """execution -> artifact, and the artifact named by its output key."""
    graph.edges.add((f"e{event.execution_id}", f"a{event.artifact_id}"))
    node = graph.nodes.get(f"a{event.artifact_id}")
    if node is not None and not node.name:
        node.name = event_key(event)


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
        lines += ["", "Checks (on the examples, and against the model once served):"]
        lines += [f"  {describe(n)}" for n in sorted(checks, key=lambda n: n.id)]
    siblings = [n for n in graph.nodes.values() if n.kind == "artifact" and n.type == "ModelEvaluation"]
    if siblings:
        lines += ["", "Evaluation:"] + [f"  {describe(n)}" for n in siblings]
    forgets = [n for n in graph.nodes.values() if n.type == FORGET_TYPE]
    if forgets:
        lines += ["", "Forget requests (rows of forgotten IDs were in this chain; pseudonyms are recorded, not IDs):"]
        lines += [f"  {describe(n)}" for n in sorted(forgets, key=lambda n: n.id)]
    rollouts = [n for n in graph.nodes.values() if n.type == ROLLOUT_TYPE]
    if rollouts:
        lines += ["", "Rollouts (labels are version folders):"] + [
            f"  {describe(n)}" for n in sorted(rollouts, key=lambda n: n.id)]
    return "\n".join(lines)


def format_artifact_list(graph: Graph) -> str:
    """One line per artifact (what `--from-data` reaches), by id."""
    return "\n".join(f"{node.type} {node.id} [{node.name}] {node.uri}".rstrip()
                     for node in sorted(graph.nodes.values(), key=lambda n: n.id) if node.kind == "artifact")


def from_data(reader: MetadataReader, path: str) -> Graph:
    """Everything derived from an input file or folder (what a deletion request must reach)."""
    path = os.path.abspath(path)
    example_gen_type = next((name for name in reader.execution_type_names() if name.endswith("FileBasedExampleGen")), "")
    examples = []
    for execution in reader.store.get_executions_by_type(example_gen_type):
        base = execution.custom_properties.get("input_base")
        base = base.string_value if base is not None else ""
        if not base:
            continue
        inside = path == base or os.path.dirname(path) == base or path.startswith(base.rstrip("/") + "/")
        if inside or fnmatch.fnmatch(path, os.path.join(base, "*")):
            examples += [a.id for arts in reader.outputs_of(execution.id).values()
                         for a in arts]
    return downstream(reader, sorted(set(examples))) if examples else Graph()


def training_statistics(reader: MetadataReader, model_id: int):
    """The statistics of the raw examples a model was trained on (model <- Trainer <- examples ->
    StatisticsGen -> statistics), or None where the chain is not recorded. Models trained before Transform
    stopped writing transformed examples read those: one step further (<- Transform <- examples)."""
    trainer = reader.producer(model_id)
    examples = reader.inputs_of(trainer.id).get("examples") if trainer else None
    producer = reader.producer(examples[0].id) if examples else None
    raw = (reader.inputs_of(producer.id).get("examples") if producer else None) or examples
    for execution in reader.consumers(raw[0].id) if raw else []:
        statistics = reader.outputs_of(execution.id).get("statistics")
        if statistics:
            return statistics[0]
    return None
