"""The fault suite: `mlops run`'s whole process group killed with SIGKILL at five points, then run again.
Transform, Trainer and Evaluator are killed from outside once their executor has written something;
ExampleGen (well under a second on small data) and the Pusher's publish from inside the run.

One small taxi pipeline and one store. Each run is killed one step further than the one before
(ExampleGen, Transform, Trainer, Evaluator, then inside the Pusher's publish), and the sixth run is let
finish. So each run both proves the recovery of the fault before it (the killed execution canceled, its
partial folders gone, every completed step reused from cache) and injects the next fault, for the cost
of about one pipeline run.
"""
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from ml_metadata.proto import metadata_store_pb2 as mlmd

from pipelines.config import load_config
from pipelines.shared import component_ids as ids

from helpers import PROJECT, make_config, mlops, reader_of, small_csv, summary_of, versions

KILL_TIMEOUT = 600

# Points too short to hit from outside are hit from inside the run's own process: `mlops run` with
# one function wrapped to kill the whole process group with SIGKILL at that point.
KILLED_INSIDE = """
import os, signal, sys
from components.atomic_pusher import publishing
from components.csv_example_gen import splits
point = sys.argv.pop(1)

def then_killed(before):
    def wrapper(*args, **kwargs):
        before(*args, **kwargs)
        os.killpg(0, signal.SIGKILL)
    return wrapper

def complete_version(staged, serving_dir):
    assert os.path.isfile(os.path.join(staged, "saved_model.pb")), staged

if point == "ExampleGen":  # right after the first batch of examples went to the writer: a partial split
    splits.SplitWriter.write = then_killed(splits.SplitWriter.write)
else:  # the staged version is complete and the rename that publishes it is next
    publishing.publish = then_killed(complete_version)
from pipelines.cli import main
sys.exit(main())
"""
KILLED_FROM_INSIDE = {ids.EXAMPLE_GEN: "ExampleGen", ids.PUSHER: "Pusher"}


@dataclass
class Killed:
    node: str
    run_id: str
    execution_id: int
    completed: set  # the nodes that had completed in the killed run
    output: str


@dataclass
class Chain:
    config: Path
    pipeline_root: Path
    serving_dir: Path
    killed: list  # Killed, one per fault, in order
    final: subprocess.CompletedProcess


def new_executions(node_dir: Path, known: set) -> list:
    folder = node_dir / ".system" / "executor_execution"
    return [p.name for p in folder.iterdir() if p.name not in known] if folder.is_dir() else []


def kill_during(config: Path, pipeline_root: Path, node: str, log: Path) -> None:
    """Starts `mlops run` in its own process group and kills the whole group with SIGKILL once `node`'s
    executor has started and written something (or half a second after it started)."""
    node_dir = pipeline_root / node
    known = set(new_executions(node_dir, set()))
    inside = KILLED_FROM_INSIDE.get(node)
    command = ([sys.executable, "-c", KILLED_INSIDE, inside, "run", str(config)] if inside
               else [sys.executable, "-m", "pipelines.cli", "run", str(config)])
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=PROJECT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + KILL_TIMEOUT
        started = None
        while process.poll() is None and time.time() < deadline:
            if not inside:
                if started is None and new_executions(node_dir, known):
                    started = time.time()
                if started is not None:
                    execution = new_executions(node_dir, known)[0]
                    wrote = any(any(p.is_file() for p in (node_dir / key / execution).rglob("*"))
                                for key in os.listdir(node_dir) if key != ".system")
                    if wrote or time.time() - started > 0.5:
                        os.killpg(process.pid, signal.SIGKILL)
                        break
            time.sleep(0.02)
    finally:
        if process.poll() is None and inside:  # the run kills itself; not if it never got there
            process.wait(timeout=KILL_TIMEOUT)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL, f"{node}: the run was not killed\n{log.read_text()[-3000:]}"


def unfinished(reader) -> list:
    return [e for e in reader.pipeline_executions()
            if e.last_known_state in (mlmd.Execution.RUNNING, mlmd.Execution.NEW)]


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> Chain:
    work = tmp_path_factory.mktemp("faults")
    csv_path = small_csv("taxi", work / "data", rows=2000)
    config = make_config("taxi", work, csv_path.parent, model__train_steps=30, model__eval_steps=5,
                         evaluation__thresholds__0__lower_bound=0.5,
                         infra_validation__platform="local_process")
    cfg = load_config(config)
    pipeline_root, serving_dir = Path(cfg.pipeline_root), Path(cfg.serving_dir)
    killed = []
    for number, node in enumerate([ids.EXAMPLE_GEN, ids.TRANSFORM, ids.TRAINER, ids.EVALUATOR, ids.PUSHER]):
        log = work / f"run-{number}.log"
        kill_during(config, pipeline_root, node, log)
        reader = reader_of(config)
        # The killed step, left RUNNING by TFX, and any step that ran beside it (runner.parallel_components).
        left = unfinished(reader)
        summary = summary_of(config)
        [execution] = [e for e in left if reader.node_name(e) == node] or [None]
        assert execution is not None, (node, [reader.node_name(e) for e in left], summary.components)
        completed = {c.node for c in summary.components if c.state in ("complete", "cached")}
        killed.append(Killed(node, summary.run_id, execution.id, completed, log.read_text()))
    final = mlops("run", config)
    return Chain(config, pipeline_root, serving_dir, killed, final)


@pytest.mark.parametrize("fault", range(5), ids=["ExampleGen", "Transform", "Trainer", "Evaluator", "Pusher-publish"])
def test_after_a_kill_the_next_run_cancels_the_killed_step_removes_its_outputs_and_reuses_the_rest(chain, fault):
    killed = chain.killed[fault]
    reader = reader_of(chain.config)
    [execution] = reader.store.get_executions_by_id([killed.execution_id])
    assert execution.last_known_state == mlmd.Execution.CANCELED
    node_dir = chain.pipeline_root / killed.node
    leftovers = [p for p in node_dir.glob(f"*/{killed.execution_id}")] + \
        [p for p in node_dir.glob(f".system/executor_execution/{killed.execution_id}")]
    assert leftovers == []

    next_run = chain.killed[fault + 1].run_id if fault + 1 < len(chain.killed) else reader.latest_run_id()
    states = {c.node: c.state for c in summary_of(chain.config, next_run).components}
    reused = killed.completed - {ids.BASELINE_RESOLVER, ids.LATEST_PUSH_RESOLVER}  # a resolver has no cache
    # Before ExampleGen nothing had completed but what runs beside it (the schema import).
    assert reused <= {ids.IMPORT_SCHEMA_GEN} if fault == 0 else reused
    assert {node: states[node] for node in reused} == {node: "cached" for node in reused}
    assert states[killed.node] == "complete"
    if fault + 1 < len(chain.killed):
        assert "Recovered interrupted run" in chain.killed[fault + 1].output
    else:
        assert "Recovered interrupted run" in chain.final.stdout


def test_the_last_run_completes_and_pushes_with_nothing_left_running_or_orphaned(chain):
    assert chain.final.returncode == 0, chain.final.stdout + chain.final.stderr
    reader = reader_of(chain.config)
    assert summary_of(chain.config).outcome == "pushed"
    assert unfinished(reader) == []

    # Every output folder on disk is an artifact ML Metadata knows.
    known = {a.uri for a in reader.pipeline_artifacts()}
    known |= {os.path.dirname(uri) for uri in known if uri.endswith("/value")}
    folders = {str(p) for p in chain.pipeline_root.glob("*/*/*")
               if p.is_dir() and p.parent.name != ".system" and p.parent.parent.name != ".system"
               and not p.parent.name.startswith(".")}
    assert folders and folders <= known, folders - known

    # The serving folder holds complete versions only: the one push, nothing staged.
    [version] = versions(chain.serving_dir)
    assert version.isdigit() and (chain.serving_dir / version / "saved_model.pb").is_file()
    assert (chain.serving_dir / version / "variables").is_dir()


def test_mlops_runs_names_the_five_interrupted_runs(chain):
    result = mlops("runs", chain.config)
    assert result.returncode == 0, result.stderr
    outcomes = {line.split()[0]: line.split()[-1] for line in result.stdout.splitlines()[3:]}
    assert [outcomes[k.run_id] for k in chain.killed] == ["interrupted"] * 5
    assert list(outcomes.values())[-1] == "pushed"
