"""Rollouts recorded in ML Metadata and what the registry makes of them: which version is stable, which one
batch inference may use, and a rollout with no server running (recorded for the next `mlops serve`)."""
import json

import pytest
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2 as mlmd

from pipelines.config import load_config
from pipelines.metadata import records, registry, rollouts
from pipelines.metadata.reader import MetadataReader
from pipelines.model_server.processes import free_loopback_port
from pipelines.serving import server
from pipelines.shared.version_labels import ServingState


class PushHistory:
    """A store with pushes recorded as TFX records them: Trainer -> Model, Evaluator -> ModelBlessing,
    Pusher(model, model_blessing) -> PushedModel at <serving_dir>/<folder>."""

    def __init__(self, tmp_path):
        config = mlmd.ConnectionConfig()
        config.sqlite.filename_uri = str(tmp_path / "mlmd.sqlite")
        config.sqlite.connection_mode = mlmd.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        self.store = metadata_store.MetadataStore(config)
        context_type = self.store.put_context_type(mlmd.ContextType(name="pipeline"))
        self.context = mlmd.Context(type_id=context_type, name="taxi")
        self.context.id = self.store.put_contexts([self.context])[0]
        self.serving_dir = tmp_path / "serving"
        self.reader = MetadataReader(self.store, "taxi")

    def _artifact(self, type_name, uri, **custom):
        artifact = mlmd.Artifact(type_id=self.store.put_artifact_type(mlmd.ArtifactType(name=type_name)), uri=uri,
                                 state=mlmd.Artifact.LIVE)
        for key, value in custom.items():
            records.set_value(artifact.custom_properties[key], value)
        return artifact

    def _execution(self, type_name, inputs, outputs):
        pairs = [(a, records.event(mlmd.Event.INPUT, k)) for k, a in inputs.items()]
        pairs += [(a, records.event(mlmd.Event.OUTPUT, k)) for k, a in outputs.items()]
        execution = mlmd.Execution(type_id=self.store.put_execution_type(mlmd.ExecutionType(name=type_name)),
                                   last_known_state=mlmd.Execution.COMPLETE)
        _, artifact_ids, _ = self.store.put_execution(execution, pairs, [self.context])
        return dict(zip([k for k in inputs] + [k for k in outputs], artifact_ids))

    def push(self, folder: int, blessed: int = 1) -> int:
        model = self._artifact("Model", f"/trainer/model/{folder}")
        model.id = self._execution("Trainer", {}, {"model": model})["model"]
        blessing = self._artifact("ModelBlessing", f"/evaluator/{folder}", blessed=blessed)
        blessing.id = self._execution("Evaluator", {"model": model}, {"blessing": blessing})["blessing"]
        (self.serving_dir / str(folder)).mkdir(parents=True)
        pushed = self._artifact("PushedModel", str(self.serving_dir / str(folder)), pushed=1,
                                pushed_destination=str(self.serving_dir / str(folder)))
        return self._execution("Pusher", {"model": model, "model_blessing": blessing},
                               {"pushed_model": pushed})["pushed_model"]


@pytest.fixture
def history(tmp_path):
    return PushHistory(tmp_path)


def labelled(history):
    return {v.version: v.labels for v in registry.model_versions(history.reader, str(history.serving_dir),
                                                                 with_metrics=False)}


def test_before_any_rollout_the_highest_folder_is_stable_then_the_latest_rollout_decides(history):
    history.push(100)
    history.push(200)
    assert labelled(history) == {"1.0.0": [], "1.1.0": ["stable"]}

    pushed = {a.id: a for a in history.store.get_artifacts_by_type("PushedModel")}
    first, second = sorted(pushed)
    state = ServingState({"stable": 100, "canary": 200}, 25, "shadow")
    rollouts.record_rollout(history.reader, "canary", state, {"stable": pushed[first], "canary": pushed[second]})
    assert labelled(history) == {"1.0.0": ["stable"], "1.1.0": ["canary"]}
    assert rollouts.current_state(history.reader) == state
    (recorded,) = rollouts.rollout_executions(history.reader)
    assert recorded.properties["user"].string_value and recorded.properties["percent"].int_value == 25
    assert [c.id for c in history.reader.consumers(second)] == [recorded.id]  # lineage finds it from the model

    history.push(300)  # a new push is a candidate: stable stays where the rollout put it
    assert labelled(history)["1.2.0"] == [] and labelled(history)["1.0.0"] == ["stable"]


def test_batch_inference_refuses_nothing_served_and_a_version_not_blessed(history):
    with pytest.raises(LookupError, match="serves no model"):
        registry.stable_model(history.reader, str(history.serving_dir))
    history.push(100, blessed=0)
    with pytest.raises(LookupError, match="not blessed by the Evaluator"):
        registry.stable_model(history.reader, str(history.serving_dir))
    history.push(200)
    version, model_uri = registry.stable_model(history.reader, str(history.serving_dir))
    assert version.version == "1.1.0" and model_uri == "/trainer/model/200"


def test_a_rollout_with_no_server_running_is_recorded_and_written_for_the_next_serve(history, project, tmp_path):
    history.push(100)
    history.push(200)
    cfg = load_config(project / "configs" / "taxi.yaml", [f"output_root={tmp_path / 'out'}",
                                                          f"push.serving_dir={history.serving_dir}",
                                                          f"serving.port={free_loopback_port()}"])
    result = server.roll_out(history.reader, cfg, "canary", "1.0.0", percent=10)
    assert not result.live and result.state == ServingState({"stable": 200, "canary": 100}, 10, "canary")
    assert result.names == {100: "1.0.0", 200: "1.1.0"}
    written = (tmp_path / "out" / "models.config").read_text()
    assert "versions: 100" in written and "versions: 200" in written and 'key: "canary"' in written
    (recorded,) = rollouts.rollout_executions(history.reader)
    assert json.loads(recorded.properties["labels"].string_value) == {"canary": 100, "stable": 200}

    server.roll_out(history.reader, cfg, "promote")
    assert rollouts.current_state(history.reader) == ServingState({"stable": 100})
    with pytest.raises(server.ServingError, match="no canary to abort"):
        server.roll_out(history.reader, cfg, "abort")
    assert len(rollouts.rollout_executions(history.reader)) == 2  # a refused step records nothing


class FakeServer:
    """A running model server as ModelServerAdmin sees it: the labels of the last config it took; reload
    number `fail_at` (1-based) is refused."""
    instances: list = []

    def __init__(self, endpoint, model_name, fail_at=None):
        self.labels, self.reloads, self.fail_at = {"stable": 200}, 0, fail_at
        FakeServer.instances.append(self)

    def answers(self):
        return True

    def reload(self, config):
        self.reloads += 1
        if self.reloads == self.fail_at:
            raise server.ServingError("the server refused the config")
        self.labels = dict(config.model_config_list.config[0].version_labels)

    def wait_available(self, versions, timeout_seconds):
        pass

    def close(self):
        pass


@pytest.mark.parametrize("failing", ["models.config", "server", "ml metadata", None])
def test_a_rollout_is_all_or_nothing_whichever_step_fails(history, project, tmp_path, monkeypatch, failing):
    history.push(100)
    history.push(200)
    cfg = load_config(project / "configs" / "taxi.yaml", [f"output_root={tmp_path / 'out'}",
                                                          f"push.serving_dir={history.serving_dir}"])
    server.write_models_config(server.models_config_path(cfg), server.models_config(cfg, (200,), {"stable": 200}, False))
    before = (tmp_path / "out" / "models.config").read_text()
    FakeServer.instances = []
    monkeypatch.setattr(server, "ModelServerAdmin",
                        lambda e, m: FakeServer(e, m, fail_at=2 if failing == "server" else None))
    if failing == "models.config":
        def disk_full(path, config):
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(server, "stage_models_config", disk_full)
    if failing == "ml metadata":
        def store_gone(*args):
            raise RuntimeError("database is locked")
        monkeypatch.setattr(rollouts, "record_rollout", store_gone)

    if failing is None:
        result = server.roll_out(history.reader, cfg, "rollback", "1.0.0")
        assert result.live and FakeServer.instances[0].labels == {"stable": 100}
        assert rollouts.current_state(history.reader) == ServingState({"stable": 100})
        assert "versions: 100" in (tmp_path / "out" / "models.config").read_text()
        return
    with pytest.raises(server.ServingError) as error:
        server.roll_out(history.reader, cfg, "rollback", "1.0.0")
    assert "the server, models.config and ML Metadata are as before" in str(error.value)
    assert FakeServer.instances == [] or FakeServer.instances[0].labels == {"stable": 200}  # the server, as before
    assert (tmp_path / "out" / "models.config").read_text() == before                      # models.config too
    assert rollouts.rollout_executions(history.reader) == []                               # nothing recorded
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".models.config")] == []
