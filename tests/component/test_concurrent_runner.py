"""ConcurrentDagRunner on small pipelines of Python function components: independent nodes overlap (and do
not with parallel_components 1); a failure lets the nodes already running finish, starts nothing that
depends on it, and is raised."""
# No `from __future__ import annotations` here: TFX's @component reads the annotations as types.
import json
import time

import pytest
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.orchestration import metadata, pipeline
from tfx.types.standard_artifacts import String

from pipelines.metadata.reader import MetadataReader, execution_state
from pipelines.runners.dag import ConcurrentDagRunner

pytestmark = pytest.mark.component


@component
def Source(out: OutputArtifact[String]):  # noqa: N802 (a component's name)
    out.value = "rows"


@component
def Sleeper(source: InputArtifact[String], record: Parameter[str], seconds: Parameter[float],
            out: OutputArtifact[String]):  # noqa: N802
    start = time.time()
    time.sleep(seconds)
    with open(record, "w") as f:
        json.dump([start, time.time()], f)
    out.value = "slept"


@component
def Fails(source: InputArtifact[String], out: OutputArtifact[String]):  # noqa: N802
    raise RuntimeError("this component fails")


@component
def Downstream(source: InputArtifact[String]):  # noqa: N802
    """Never runs: what it reads comes from the failing component."""


def run(tmp_path, name: str, parallel: int, failing: bool = False):
    source = Source().with_id("source")
    sleepers = [Sleeper(source=source.outputs["out"], record=str(tmp_path / f"{name}-{i}.json"), seconds=1.5
                        ).with_id(f"sleeper{i}") for i in range(2)]
    nodes = [source, *sleepers]
    if failing:
        fails = Fails(source=source.outputs["out"]).with_id("fails")
        nodes += [fails, Downstream(source=fails.outputs["out"]).with_id("downstream")]
    store = str(tmp_path / f"{name}.sqlite")
    ConcurrentDagRunner(parallel).run(pipeline.Pipeline(
        pipeline_name=name, pipeline_root=str(tmp_path / name), components=nodes, enable_cache=False,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(store)))


def states(tmp_path, name: str) -> dict[str, str]:
    with metadata.Metadata(metadata.sqlite_metadata_connection_config(str(tmp_path / f"{name}.sqlite"))) as m:
        reader = MetadataReader(m.store, name)
        return {reader.node_name(e): execution_state(e) for e in reader.pipeline_executions()}


def intervals(tmp_path, name: str) -> list[list[float]]:
    return [json.loads((tmp_path / f"{name}-{i}.json").read_text()) for i in range(2)]


def overlap(a: list[float], b: list[float]) -> bool:
    return max(a[0], b[0]) < min(a[1], b[1])


def test_independent_components_run_side_by_side_and_one_at_a_time_with_parallel_1(tmp_path):
    run(tmp_path, "side-by-side", parallel=3)
    assert overlap(*intervals(tmp_path, "side-by-side"))
    run(tmp_path, "one-at-a-time", parallel=1)
    assert not overlap(*intervals(tmp_path, "one-at-a-time"))
    assert set(states(tmp_path, "side-by-side").values()) == {"complete"}


def test_a_failure_lets_running_components_finish_and_starts_nothing_downstream(tmp_path):
    with pytest.raises(RuntimeError, match="this component fails"):
        run(tmp_path, "failing", parallel=3, failing=True)
    recorded = states(tmp_path, "failing")
    assert recorded["sleeper0"] == recorded["sleeper1"] == "complete" and recorded["fails"] == "failed"
    assert "downstream" not in recorded
