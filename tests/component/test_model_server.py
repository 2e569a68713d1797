"""The model server behind `mlops serve` (the stand-in; TF Serving's gRPC API) with two versions of a small
model: labels route requests, reloads follow TF Serving's label rules, rollouts switch `stable` while
requests keep being answered, the client splits by key and shadows, and the request log is serving data."""
import contextlib
import os
import subprocess
import threading
import time
from pathlib import Path

import grpc
import pytest
import tensorflow as tf

from pipelines.config import load_config
from pipelines.model_server.processes import free_loopback_port, stop_process_group
from pipelines.serving import server
from pipelines.serving.client import ServingClient
from pipelines.shared import version_labels as labels
from pipelines.shared.version_labels import ServingState

pytestmark = pytest.mark.component
PROJECT = Path(__file__).resolve().parents[2]


class Multiplier(tf.Module):
    def __init__(self, factor):
        super().__init__()
        self.factor = tf.Variable(float(factor))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(self, examples):
        x = tf.io.parse_example(examples, {"x": tf.io.FixedLenFeature([1], tf.float32)})["x"]
        return {"outputs": x * self.factor}


def example(x: float) -> bytes:
    e = tf.train.Example()
    e.features.feature["x"].float_list.value.append(x)
    return e.SerializeToString()


@pytest.fixture(scope="module")
def serving(tmp_path_factory):
    """Version folders 1 (x*2), 2 (x*3) and 3 (x*5, never loaded here), and the stand-in serving 1 as stable."""
    work = tmp_path_factory.mktemp("serving")
    cfg = load_config(PROJECT / "configs" / "taxi.yaml", [
        f"output_root={work}", f"serving.port={free_loopback_port()}", "serving.model_server=local_process",
        "serving.load_timeout_seconds=120",
        "features=[{name: x, kind: numeric}]", "evaluation.slices=[]"])  # the small model's one input, logged
    for version, factor in ((1, 2), (2, 3), (3, 5)):
        module = Multiplier(factor)
        tf.saved_model.save(module, os.path.join(cfg.serving_dir, str(version)), signatures={"serving_default": module.serve})
    with stand_in(cfg, server.models_config_path(cfg), subprocess.DEVNULL) as admin:
        yield cfg, admin


@contextlib.contextmanager
def stand_in(cfg, config_path: str, output):
    """The stand-in serving version 1 as stable (request log on) from `config_path`, until the block ends."""
    server.write_models_config(config_path, server.models_config(cfg, (1,), {"stable": 1}, log_requests=True))
    process = subprocess.Popen(server.server_command(cfg, server.STAND_IN, None, config_path), stdout=output,
                               stderr=subprocess.STDOUT, start_new_session=True)
    admin = server.ModelServerAdmin(server.endpoint(cfg), cfg.name)
    try:
        deadline = time.time() + 120
        while not admin.answers() and time.time() < deadline:
            time.sleep(0.2)
        admin.wait_available([1], 120)
        yield admin
    finally:
        admin.close()
        stop_process_group(process)


def answer(cfg, label=None, x=1.0):
    with ServingClient(server.endpoint(cfg), cfg.name) as client:
        return client._send(client._request([example(x)]), label or "stable")


def test_labels_route_requests_and_unknown_labels_are_refused(serving):
    cfg, admin = serving
    reply = answer(cfg)
    assert reply.version == 1 and reply.outputs["outputs"][0][0] == pytest.approx(2.0)
    with pytest.raises(grpc.RpcError) as refused:
        answer(cfg, "canary")
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Unrecognized servable version label: canary" in refused.value.details()


def test_a_label_in_use_cannot_move_to_a_version_that_is_not_loaded_yet(serving):
    cfg, admin = serving
    with pytest.raises(server.ServingError, match="not currently available"):
        admin.reload(server.models_config(cfg, (1, 3), {"stable": 3}, log_requests=True))
    assert answer(cfg).version == 1  # the labels were kept
    admin.reload(server.models_config(cfg, (1,), {"stable": 1}, log_requests=True))
    assert admin.states()[3] == "END"  # unloaded again


def test_canary_split_shadow_promote_and_rollback_on_a_live_server(serving):
    cfg, admin = serving
    stable = ServingState({"stable": 1})
    canary = labels.start_canary(stable, 2, percent=10, mode="canary")
    server.apply(admin, cfg, stable, canary, log_requests=True)

    # Over 1,000 deterministic keys, the canary answers 10% within 3 points, and each answer is its version's.
    with ServingClient(server.endpoint(cfg), cfg.name, percent=10) as client:
        answers = [client.predict([example(1.0)], key=f"user-{i}") for i in range(1000)]
    to_canary = [a for a in answers if a.label == "canary"]
    assert abs(len(to_canary) / 10 - 10) <= 3
    assert {a.version for a in to_canary} == {2} and {a.version for a in answers if a.label == "stable"} == {1}
    assert {float(a.outputs["outputs"][0][0]) for a in to_canary} == {3.0}

    # Shadow: every answer is stable's; the candidate's answers are in the request log under `canary`.
    shadow = ServingState(canary.labels, 100, "shadow")
    with ServingClient(server.endpoint(cfg), cfg.name, percent=100, mode="shadow") as client:
        shadow_answers = [client.predict([example(float(i))], key=str(i)) for i in range(20)]
    assert all(a.label == "stable" and a.version == 1 for a in shadow_answers)
    assert [float(a.outputs["outputs"][0][0]) for a in shadow_answers] == [2.0 * i for i in range(20)]
    logged = logged_answers(cfg)
    assert sorted(logged["canary"][-20:]) == sorted(3.0 * i for i in range(20))

    # Promote, then roll back, under a stream of requests: every request is answered.
    failures, done, seen = [], threading.Event(), set()

    def keep_asking():
        with ServingClient(server.endpoint(cfg), cfg.name) as client:
            while not done.is_set():
                try:
                    seen.add(client.predict([example(1.0)], key="k").version)
                except grpc.RpcError as error:
                    failures.append(error.details())

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        promoted = labels.promote(shadow)
        server.apply(admin, cfg, shadow, promoted, log_requests=True)
        assert answer(cfg).version == 2
        rolled_back = labels.rollback(promoted, 1)
        server.apply(admin, cfg, promoted, rolled_back, log_requests=True)
        assert answer(cfg).version == 1
    finally:
        done.set()
        asker.join()
    assert failures == [] and seen == {1, 2}
    assert admin.states() == {1: "AVAILABLE", 2: "END", 3: "END"}


def test_a_version_that_fails_to_load_is_reported_and_the_previous_state_is_put_back(serving, tmp_path):
    cfg, admin = serving
    broken = os.path.join(cfg.serving_dir, "4")
    os.makedirs(broken)
    with open(os.path.join(broken, "saved_model.pb"), "wb") as f:
        f.write(b"not a saved model")
    stable = ServingState({"stable": 1})
    with pytest.raises(server.ServingError, match="version folder 4 failed to load"):
        server.apply(admin, cfg, stable, labels.start_canary(stable, 4, 10, "canary"), log_requests=True)
    assert answer(cfg).version == 1
    with pytest.raises(grpc.RpcError):
        answer(cfg, "canary")


def logged_answers(cfg) -> dict:
    """label -> the outputs the request log holds (the log is flushed after each record)."""
    from tensorflow_serving.apis import prediction_log_pb2

    found = {}
    for name in sorted(os.listdir(cfg.request_log_dir)):
        for record in tf.data.TFRecordDataset(os.path.join(cfg.request_log_dir, name)):
            log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
            outputs = tf.make_ndarray(log.predict_log.response.outputs["outputs"]).reshape(-1)
            found.setdefault(log.log_metadata.model_spec.version_label, []).extend(float(v) for v in outputs)
    return found


def test_the_request_log_is_serving_data_for_statistics(serving):
    """What `mlops monitor` does with it: the logged tf.Examples become TFDV statistics."""
    from tensorflow_data_validation.statistics import stats_impl

    from pipelines import monitor

    cfg, _ = serving
    answer(cfg, x=4.0)
    files = monitor.serving_files(cfg.request_log_dir)
    assert monitor.data_format(files, "auto") == monitor.PREDICTION_LOG
    batch = monitor.serving_record_batch(files, monitor.PREDICTION_LOG, [""])
    statistics = stats_impl.generate_statistics_in_memory(batch).datasets[0]
    assert [f.path.step for f in statistics.features] == [["x"]]
    assert statistics.num_examples == batch.num_rows >= 1 + 20 + 20  # the shadow copies are requests too


def test_a_reload_that_changes_the_request_log_applies_it(serving, tmp_path):
    cfg, admin = serving
    moved = cfg.model_copy(deep=True)
    moved.serving.request_log.dir = str(tmp_path / "moved")
    try:
        admin.reload(server.models_config(moved, (1,), {"stable": 1}, log_requests=True))
        answer(cfg, x=101.0)
        assert 202.0 in logged_answers(moved)["stable"]
        admin.reload(server.models_config(moved, (1,), {"stable": 1}, log_requests=False))
        answer(cfg, x=102.0)
        assert 204.0 not in logged_answers(moved)["stable"]
    finally:
        admin.reload(server.models_config(cfg, (1,), {"stable": 1}, log_requests=True))
    answer(cfg, x=103.0)
    assert 206.0 in logged_answers(cfg)["stable"] and 202.0 not in logged_answers(cfg)["stable"]


AMPLIFIERS = [  # (dtype, declared elements, values sent, the status, what the message says)
    (tf.float32, 500_000_000, [1.0], grpc.StatusCode.INVALID_ARGUMENT, "declares more than 10000000 values"),
    (tf.string, 9_000_000, [b"x" * 1024], grpc.StatusCode.RESOURCE_EXHAUSTED, "more than the 256 MB a request may"),
    (tf.string, 500_000, [b"x" * 1024], grpc.StatusCode.RESOURCE_EXHAUSTED, "more than the 256 MB a request may"),
    (tf.string, 2, [b"a", b"b", b"c"], grpc.StatusCode.INVALID_ARGUMENT, "sends 3 strings for a shape of 2"),
]


@pytest.mark.parametrize("dtype, declared, sent, status, message", AMPLIFIERS)
def test_a_request_declaring_gigabytes_in_a_few_bytes_is_refused_without_allocating(serving, dtype, declared, sent,
                                                                                  status, message):
    """TensorFlow fills a declared shape from fewer values by repeating the last one: 1 KB may declare 9 GB."""
    import psutil
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    cfg, _ = serving
    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = cfg.name, "serving_default"
    tensor = request.inputs["examples"]
    tensor.dtype = dtype.as_datatype_enum
    tensor.tensor_shape.dim.add().size = declared
    (tensor.string_val if dtype == tf.string else tensor.float_val).extend(sent)
    assert len(request.SerializeToString()) < 2000
    stand_in = next(p for p in psutil.process_iter(["cmdline"])
                    if any("model_server/stand_in.py" in c for c in p.info["cmdline"] or [])
                    and f"--port={cfg.serving.port}" in p.info["cmdline"])
    before = stand_in.memory_info().rss
    with grpc.insecure_channel(server.endpoint(cfg)) as channel:
        for _ in range(3):  # again and again: nothing accumulates
            with pytest.raises(grpc.RpcError) as refused:
                prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=30)
            assert refused.value.code() == status and message in refused.value.details()
    assert stand_in.memory_info().rss - before < 200 << 20
    assert answer(cfg).version == 1  # and it still serves


def test_the_memory_budget_refuses_what_would_go_over_it_and_frees_what_was_answered():
    from pipelines.model_server.stand_in import MemoryBudget, Rejected

    budget = MemoryBudget(limit=100)
    with budget.taken(60):
        with pytest.raises(Rejected) as refused, budget.taken(50):
            pass
        assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    with budget.taken(100):
        assert budget.used == 100
    assert budget.used == 0


def test_a_port_taken_by_another_program_is_found_before_serving(tmp_path):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        assert server.port_taken("127.0.0.1", port)
        cfg = load_config(PROJECT / "configs" / "taxi.yaml", [f"output_root={tmp_path}", f"serving.port={port}",
                                                               "serving.model_server=local_process"])
        os.makedirs(os.path.join(cfg.serving_dir, "1"))
        config_path = server.models_config_path(cfg)
        server.write_models_config(config_path, server.models_config(cfg, (), {}, log_requests=False))
        # The stand-in itself refuses too (gRPC would otherwise share the port with SO_REUSEPORT).
        result = subprocess.run(server.server_command(cfg, server.STAND_IN, None, config_path), capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 1 and "the port is taken by another process" in result.stdout, result.stdout
    finally:
        taken.close()
    assert not server.port_taken("127.0.0.1", port)


def test_request_log_failures_never_fail_a_request_and_logging_resumes(serving, tmp_path):
    """Logs rotate at a size (here every record); when the folder cannot be written, requests are answered,
    the failures counted in the server's log, and logging resumes in a new file once it can."""
    import shutil

    cfg, _ = serving
    small = cfg.model_copy(deep=True)
    small.serving.port = free_loopback_port()
    small.serving.request_log.dir = str(tmp_path / "logs")
    small.serving.request_log.max_file_mb = 0.0001  # about 100 bytes: a new file for every record
    with open(tmp_path / "server.log", "wb") as log, stand_in(small, str(tmp_path / "models.config"), log):
        assert answer(small, x=1.0).version == 1 and answer(small, x=2.0).version == 1
        assert len(os.listdir(small.request_log_dir)) == 2  # rotated
        shutil.rmtree(small.request_log_dir)
        (tmp_path / "logs").write_text("not a folder")  # nothing can be written there now
        assert [answer(small, x=x).outputs["outputs"][0][0] for x in (3.0, 4.0)] == [6.0, 8.0]
        os.remove(tmp_path / "logs")
        os.makedirs(small.request_log_dir)
        time.sleep(0.6)  # past the first back-off: the next record is written
        answer(small, x=5.0)
        assert logged_answers(small) == {"stable": [10.0]}
    # The second request came while backing off: dropped and counted, with no attempt to write.
    assert "request log: write failed (1 so far, 0 records dropped while waiting to retry; the requests were " \
           "answered)" in (tmp_path / "server.log").read_text()
