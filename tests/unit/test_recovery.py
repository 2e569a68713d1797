"""Recovering what killed runs left: executions left RUNNING, their partial folders, and the run locks
that say whether another process is running the pipeline (so that it is never cleaned up under it)."""
import os
import signal
import subprocess
import sys
import time

import pytest
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2 as mlmd

from pipelines.config import load_config
from pipelines.metadata import recovery, runs
from pipelines.metadata.reader import MetadataReader
from pipelines.runners import local, run_lock

PIPELINE = "taxi"


class TfxLikeStore:
    """An MLMD store recording executions as TFX's launcher does: in pipeline, run and node contexts."""

    def __init__(self, path):
        config = mlmd.ConnectionConfig()
        config.sqlite.filename_uri = str(path)
        config.sqlite.connection_mode = mlmd.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        self.store = metadata_store.MetadataStore(config)
        types = {name: self.store.put_context_type(mlmd.ContextType(name=name))
                 for name in ("pipeline", "pipeline_run", "node")}
        self.types = types
        self.pipeline = self._context("pipeline", PIPELINE)
        self.model_type = self.store.put_artifact_type(mlmd.ArtifactType(name="Model"))

    def _context(self, kind, name):
        context = mlmd.Context(type_id=self.types[kind], name=name)
        context.id = self.store.put_contexts([context])[0]
        return context

    def execution(self, run_id, node, state, stateful_index=None):
        run = self.store.get_context_by_type_and_name("pipeline_run", run_id)
        if run is None:
            run = self._context("pipeline_run", run_id)
            self.store.put_parent_contexts([mlmd.ParentContext(child_id=run.id, parent_id=self.pipeline.id)])
        node_context = (self.store.get_context_by_type_and_name("node", f"{PIPELINE}.{node}")
                        or self._context("node", f"{PIPELINE}.{node}"))
        execution = mlmd.Execution(type_id=self.store.put_execution_type(mlmd.ExecutionType(name=node)),
                                   last_known_state=state)
        if stateful_index:
            execution.custom_properties[recovery.STATEFUL_WORKING_DIR_INDEX].string_value = stateful_index
        execution_id, _, _ = self.store.put_execution(execution, [], [self.pipeline, run, node_context])
        return execution_id

    def live_model_at(self, uri):
        self.store.put_artifacts([mlmd.Artifact(type_id=self.model_type, uri=str(uri), state=mlmd.Artifact.LIVE)])

    def state(self, execution_id):
        return self.store.get_executions_by_id([execution_id])[0].last_known_state

    def recover(self, root, serving, store_is_ours=True):
        return recovery.recover(self.store, MetadataReader(self.store, PIPELINE), str(root), str(serving), store_is_ours)


def folders(root, node, execution_id, keys=("model", "model_run"), stateful_index=None):
    made = [root / node / key / str(execution_id) for key in keys]
    made.append(root / node / ".system" / "executor_execution" / str(execution_id) / ".temp")
    if stateful_index:
        made.append(root / node / ".system" / "stateful_working_dir" / stateful_index)
    for folder in made:
        folder.mkdir(parents=True)
        (folder / "partial").write_text("half")
    return made


def test_a_killed_execution_is_canceled_and_its_partial_outputs_removed_but_nothing_else(tmp_path):
    db, root, serving = TfxLikeStore(tmp_path / "m.sqlite"), tmp_path / "root", tmp_path / "serving"
    done = db.execution("run-1", "Trainer", mlmd.Execution.COMPLETE)
    folders(root, "Trainer", done)
    killed = db.execution("run-2", "Trainer", mlmd.Execution.RUNNING, stateful_index="abc")
    partial = folders(root, "Trainer", killed, stateful_index="abc")

    recovered = db.recover(root, serving)

    assert [(r.run_id, r.node, r.execution_id) for r in recovered] == [("run-2", "Trainer", killed)]
    assert db.state(killed) == mlmd.Execution.CANCELED and db.state(done) == mlmd.Execution.COMPLETE
    assert not any(p.exists() for p in partial)
    assert (root / "Trainer" / "model" / str(done) / "partial").exists()
    assert "interrupted" in db.store.get_executions_by_id([killed])[0].custom_properties[recovery.CANCEL_REASON].string_value
    assert recovery.describe(recovered) == [
        f"Recovered interrupted run run-2: Trainer (execution {killed}) marked canceled, 4 partial folders removed"]
    assert db.recover(root, serving) == []  # nothing left to do


def test_a_folder_a_live_artifact_points_to_is_never_removed(tmp_path):
    db, root = TfxLikeStore(tmp_path / "m.sqlite"), tmp_path / "root"
    killed = db.execution("run-1", "Trainer", mlmd.Execution.RUNNING)
    model, model_run, system = folders(root, "Trainer", killed)
    db.live_model_at(model)

    [item] = db.recover(root, tmp_path / "serving")

    assert model.exists() and item.kept == [str(model)]
    assert not model_run.exists() and not system.exists()


def test_in_a_shared_store_only_executions_started_from_this_pipeline_root_are_recovered(tmp_path):
    db, root = TfxLikeStore(tmp_path / "m.sqlite"), tmp_path / "root"
    elsewhere = db.execution("run-1", "Trainer", mlmd.Execution.RUNNING)  # no folder here: another machine's
    here = db.execution("run-2", "Transform", mlmd.Execution.RUNNING)
    folders(root, "Transform", here, keys=("transform_graph",))

    recovered = db.recover(root, tmp_path / "serving", store_is_ours=False)

    assert [r.execution_id for r in recovered] == [here]
    assert db.state(elsewhere) == mlmd.Execution.RUNNING


def test_an_interrupted_push_leaves_no_staged_version(tmp_path):
    db, root, serving = TfxLikeStore(tmp_path / "m.sqlite"), tmp_path / "root", tmp_path / "serving"
    (serving / "1700000000").mkdir(parents=True)  # a published version
    (serving / ".staging" / "0f3a" / "1700000500" / "variables").mkdir(parents=True)
    db.execution("run-1", "Pusher", mlmd.Execution.RUNNING)

    db.recover(root, serving)

    assert sorted(os.listdir(serving)) == ["1700000000"]


def test_run_outcome_names_an_interrupted_run():
    from pipelines.metadata.runs import ComponentRun

    def outcome(states, running=False):
        return runs.run_outcome([ComponentRun(f"C{i}", s, 1.0) for i, s in enumerate(states)], running)

    assert outcome(["complete", "canceled"]) == runs.INTERRUPTED
    assert outcome(["complete", "running"]) == runs.INTERRUPTED  # killed, not recovered yet
    assert outcome(["complete", "running"], running=True) == runs.RUNNING
    assert outcome(["complete", "failed"]) == runs.FAILED


# --- run locks ------------------------------------------------------------------------------

HOLD = """
import sys, time
from pipelines.runners.run_lock import RunLock
with RunLock(sys.argv[1], what="holder"):
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def holder(tmp_path, project):
    """Another process holding a run lock in tmp_path/locks until killed."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "locks")], cwd=project,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    yield process
    process.kill()
    process.wait()


def test_a_lock_is_alive_while_its_process_lives_and_stale_once_it_is_killed(tmp_path, holder):
    directory = str(tmp_path / "locks")
    assert [r["what"] for r in run_lock.live_runs(directory)] == ["holder"]
    with run_lock.RunLock(directory) as mine:
        assert [r["pid"] for r in mine.others()] == [holder.pid]
        assert run_lock.live_runs(directory, exclude=mine.path)[0]["pid"] == holder.pid
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        assert mine.others() == []
        assert os.listdir(directory) == [os.path.basename(mine.path)]  # the stale file is gone
    assert os.listdir(directory) == []


def test_no_recovery_and_no_second_run_while_another_process_runs_the_pipeline(tmp_path, project, holder):
    cfg = load_config(project / "configs" / "taxi.yaml", [f"output_root={tmp_path / 'out'}"])
    os.makedirs(cfg.pipeline_root)
    os.rename(tmp_path / "locks", run_lock.lock_dir(cfg.pipeline_root))  # the holder's lock, for this pipeline
    db = TfxLikeStore(cfg.sqlite_path)
    running = db.execution("run-1", "Trainer", mlmd.Execution.RUNNING)
    partial = folders(tmp_path / "out" / "pipeline_root", "Trainer", running)

    with pytest.raises(local.PipelineBusy, match=f"already running on .*: process {holder.pid} on .* \\(holder\\)"):
        with local.own_run(cfg):
            pass
    assert db.state(running) == mlmd.Execution.RUNNING and all(p.exists() for p in partial)
    assert [r["pid"] for r in run_lock.live_runs(run_lock.lock_dir(cfg.pipeline_root))] == [holder.pid]

    holder.kill()
    holder.wait()
    time.sleep(0.1)
    with local.own_run(cfg) as recovered:
        assert [r.execution_id for r in recovered] == [running]
    assert db.state(running) == mlmd.Execution.CANCELED and not any(p.exists() for p in partial)


def test_of_two_claims_only_the_later_sees_an_earlier_one(tmp_path):
    directory = str(tmp_path / "locks")
    with run_lock.RunLock(directory, what="first") as first, run_lock.RunLock(directory, what="second") as second:
        assert first.earlier() == []
        assert [r["what"] for r in second.earlier()] == ["first"]
