"""The InfraValidator executor on small SavedModels, with real model server processes.

Each case starts the local_process stand-in (a fresh interpreter importing TensorFlow, ~5 s) and
talks to it with TFX's TF Serving client. After every test no child process may be left.
"""
import math
import os
import stat
import sys
import time

import psutil
import pytest
import tensorflow as tf
from google.protobuf import message
from tfx.components.infra_validator import error_types, serving_bins
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils, standard_artifacts
from tfx.types import standard_component_specs as keys
from tfx.utils import proto_utils

from components.infra_validator import runners
from components.infra_validator.component import parameters
from components.infra_validator.executor import Executor
from pipelines.model_server import processes

pytestmark = pytest.mark.component


@pytest.fixture(autouse=True)
def no_child_process_survives():
    yield
    children = psutil.Process().children(recursive=True)
    assert not children, [c.cmdline() for c in children]


class Doubler(tf.Module):
    """A servable model: parses feature `x` from serialized tf.Examples; asserts x >= 0 if `strict`."""

    def __init__(self, strict=False, attribution_error=0.0):
        super().__init__()
        self.factor = tf.Variable(2.0)
        self.strict = strict
        self.attribution_error = attribution_error

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(self, examples):
        x = tf.io.parse_example(examples, {"x": tf.io.FixedLenFeature([1], tf.float32)})["x"]
        if self.strict:
            tf.debugging.assert_non_negative(x, message="x must be >= 0")
        return {"outputs": x * self.factor}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def explain(self, examples):
        """As the Trainer's: x carries all of the output's change from a baseline of 0."""
        output = tf.reshape(self.serve(examples)["outputs"], [-1])
        return {"attributions": output[:, tf.newaxis] + self.attribution_error, "output": output,
                "baseline_output": tf.zeros_like(output)}


def save_model(tmp_path, signature_name="serving_default", strict=False, attribution_error=0.0
               ) -> standard_artifacts.Model:
    module = Doubler(strict, attribution_error)
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    tf.saved_model.save(module, os.path.join(model.uri, "Format-Serving"),
                        signatures={signature_name: module.serve, "explain": module.explain})
    return model


def write_examples(tmp_path, values) -> standard_artifacts.Examples:
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    examples.split_names = artifact_utils.encode_split_names(["eval"])
    os.makedirs(f"{examples.uri}/Split-eval")
    with tf.io.TFRecordWriter(f"{examples.uri}/Split-eval/data.gz", options="GZIP") as writer:
        for value in values:
            example = tf.train.Example()
            example.features.feature["x"].float_list.value.append(value)
            writer.write(example.SerializeToString())
    return examples


def validate(tmp_path, model, examples, **settings) -> standard_artifacts.InfraBlessing:
    settings = {"platform": "local_process", "tries": 1, "max_loading_time_seconds": 60, **settings}
    exec_properties = {k: proto_utils.proto_to_json(v) if isinstance(v, message.Message) else v
                       for k, v in parameters(**settings).items() if v is not None}
    blessing = standard_artifacts.InfraBlessing()
    blessing.uri = str(tmp_path / "blessing")
    os.makedirs(blessing.uri)
    executor = Executor(base_executor.BaseExecutor.Context(tmp_dir=str(tmp_path / "tmp"), unique_id="1"))
    executor.Do({keys.MODEL_KEY: [model], keys.EXAMPLES_KEY: [examples]}, {keys.BLESSING_KEY: [blessing]},
                exec_properties)
    return blessing


def blessed(blessing) -> bool:
    assert os.path.exists(os.path.join(blessing.uri, "INFRA_BLESSED")) == (blessing.get_int_custom_property("blessed") == 1)
    return blessing.get_int_custom_property("blessed") == 1


def test_a_servable_model_is_loaded_queried_and_blessed(tmp_path):
    blessing = validate(tmp_path, save_model(tmp_path), write_examples(tmp_path, [1.0, 2.0]))
    assert blessed(blessing)
    assert blessing.get_string_custom_property("platform") == "local_process"
    assert not (tmp_path / "tmp").exists() or not any((tmp_path / "tmp").rglob("saved_model.pb"))  # copy removed


def test_corrupted_variables_are_not_blessed_with_the_load_error(tmp_path):
    model = save_model(tmp_path)
    variables = next((tmp_path / "model" / "Format-Serving" / "variables").glob("variables.data-*"))
    variables.write_bytes(b"\0garbage" * 4)
    blessing = validate(tmp_path, model, write_examples(tmp_path, [1.0]))
    assert not blessed(blessing)
    reason = blessing.get_string_custom_property("reason")
    assert "failed to load" in reason and "LOAD FAILED" in reason, reason


def test_a_missing_serving_signature_is_not_blessed(tmp_path):
    model = save_model(tmp_path, signature_name="something_else")
    blessing = validate(tmp_path, model, write_examples(tmp_path, [1.0]))
    assert not blessed(blessing)
    assert "serving_default could not be found" in blessing.get_string_custom_property("reason")


def test_a_model_failing_on_the_request_examples_is_not_blessed(tmp_path):
    model = save_model(tmp_path, strict=True)
    blessing = validate(tmp_path, model, write_examples(tmp_path, [1.0, -3.0]), num_examples=2)
    assert not blessed(blessing)
    reason = blessing.get_string_custom_property("reason")
    assert reason.startswith("a request failed") and "x must be >= 0" in reason, reason


def test_a_model_answering_nan_is_not_blessed_and_not_tried_again(tmp_path, monkeypatch):
    module = Doubler()
    module.factor.assign(float("nan"))  # what one `inf` in the training data made of a whole model
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    tf.saved_model.save(module, os.path.join(model.uri, "Format-Serving"), signatures={"serving_default": module.serve})
    started = []
    real = runners.local_process_runner
    monkeypatch.setattr(runners, "local_process_runner", lambda *a, **k: started.append(1) or real(*a, **k))
    blessing = validate(tmp_path, model, write_examples(tmp_path, [1.0, 2.0]), num_examples=2, tries=3)
    assert not blessed(blessing)
    reason = blessing.get_string_custom_property("reason")
    assert reason.startswith("the model answers NaN or infinity ('outputs' in 2 of 2 requests)"), reason
    assert len(started) == 1  # a deterministic verdict: no server started again for the other tries


def test_attributions_that_do_not_add_up_are_not_blessed(tmp_path):
    blessing = validate(tmp_path, save_model(tmp_path, attribution_error=0.5), write_examples(tmp_path, [1.0, 2.0]))
    assert not blessed(blessing)
    reason = blessing.get_string_custom_property("reason")
    assert reason.startswith("the explain signature's attributions do not add up"), reason


def test_a_model_without_an_explain_signature_is_not_blessed(tmp_path):
    module = Doubler()
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    tf.saved_model.save(module, os.path.join(model.uri, "Format-Serving"), signatures={"serving_default": module.serve})
    blessing = validate(tmp_path, model, write_examples(tmp_path, [1.0, 2.0]))
    assert not blessed(blessing)
    assert "explain" in blessing.get_string_custom_property("reason")


def test_load_only_sends_no_request(tmp_path):
    model = save_model(tmp_path, strict=True)
    blessing = validate(tmp_path, model, write_examples(tmp_path, [-3.0]), load_and_query=False)
    assert blessed(blessing)


def test_a_model_slower_than_the_max_loading_time_is_not_blessed(tmp_path):
    # Importing TensorFlow alone takes longer than one second.
    blessing = validate(tmp_path, save_model(tmp_path), write_examples(tmp_path, [1.0]), max_loading_time_seconds=1)
    assert not blessed(blessing)
    assert "max_loading_time_seconds" in blessing.get_string_custom_property("reason")


def test_the_server_is_stopped_when_the_validator_itself_is_interrupted(tmp_path, monkeypatch):
    def interrupted(self, endpoint):
        raise error_types.GracefulShutdown("Got signal 15.")

    monkeypatch.setattr(serving_bins.TensorFlowServing, "MakeClient", interrupted)
    with pytest.raises(error_types.GracefulShutdown):
        validate(tmp_path, save_model(tmp_path), write_examples(tmp_path, [1.0]))
    # the autouse fixture checks that the started server is gone


def test_tf_serving_binary_platform_runs_the_configured_binary(tmp_path):
    """The binary's command line, through a fake `tensorflow_model_server` that execs the stand-in."""
    fake = tmp_path / "tensorflow_model_server"
    fake.write_text(f"""#!/bin/sh
echo "$@" > {tmp_path}/args
for a in "$@"; do case "$a" in --rest_api_port=*) ;; *) set -- "$@" "$a";; esac; shift; done
exec {sys.executable} -I {processes.STAND_IN} "$@"
""")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    blessing = validate(tmp_path, save_model(tmp_path), write_examples(tmp_path, [1.0]),
                        platform="auto", model_server_path=str(fake))
    assert blessed(blessing)
    assert blessing.get_string_custom_property("platform") == "tf_serving_binary"
    args = (tmp_path / "args").read_text().split()
    assert args[0].startswith("--port=") and "--rest_api_port=0" in args and "--model_name=candidate" in args


def test_a_missing_binary_is_a_setup_error_not_a_verdict(tmp_path):
    from pipelines.model_server.platforms import PlatformUnavailable

    with pytest.raises(PlatformUnavailable, match="not an executable file"):
        validate(tmp_path, save_model(tmp_path), write_examples(tmp_path, [1.0]),
                 platform="tf_serving_binary", model_server_path=str(tmp_path / "nope"))


def test_a_failed_copy_of_the_model_fails_the_component_not_the_model(tmp_path, monkeypatch):
    from tfx.utils import io_utils

    from components.infra_validator.executor import InfraValidatorError

    def disk_full(src, dst, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io_utils, "copy_dir", disk_full)
    with pytest.raises(InfraValidatorError, match="could not copy the model.*No space left on device"):
        validate(tmp_path, save_model(tmp_path), write_examples(tmp_path, [1.0]))


def test_a_server_that_cannot_be_started_fails_the_component_not_the_model(tmp_path, monkeypatch):
    from components.infra_validator.executor import InfraValidatorError

    def no_interpreter(model_path, model_name, memory_limit_mb, max_lifetime_seconds):
        return runners.ProcessRunner("local_process", lambda port: [str(tmp_path / "no-such-python")])

    monkeypatch.setattr(runners, "local_process_runner", no_interpreter)
    with pytest.raises(InfraValidatorError, match="could not start the model server \\(local_process\\).*no-such-python"):
        validate(tmp_path, save_model(tmp_path), write_examples(tmp_path, [1.0]), tries=2)


def test_a_bug_while_building_requests_fails_the_component(tmp_path, monkeypatch):
    from tfx.components.infra_validator import request_builder

    def bug(**kwargs):
        raise TypeError("unexpected keyword")

    monkeypatch.setattr(request_builder, "build_requests", bug)
    with pytest.raises(TypeError, match="unexpected keyword"):
        validate(tmp_path, save_model(tmp_path), write_examples(tmp_path, [1.0]))


def save_v1_classify_and_regress_model(tmp_path) -> standard_artifacts.Model:
    """A TF1-style SavedModel with Classify and Regress signatures (what Estimators export)."""
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        examples = tf.compat.v1.placeholder(tf.string, [None], name="examples")
        x = tf.io.parse_example(examples, {"x": tf.io.FixedLenFeature([1], tf.float32)})["x"]
        scores = tf.concat([tf.sigmoid(-x), tf.sigmoid(x)], axis=1)
        classes = tf.tile(tf.constant([["no", "yes"]]), [tf.shape(x)[0], 1])
        builder = tf.compat.v1.saved_model.Builder(os.path.join(model.uri, "Format-Serving"))
        builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map={
            "serving_default": tf.compat.v1.saved_model.classification_signature_def(examples, classes, scores),
            "regress": tf.compat.v1.saved_model.regression_signature_def(examples, x * 2)})
        builder.save()
    return model


def test_classify_and_regress_requests_are_answered(tmp_path):
    import grpc
    from tensorflow_serving.apis import classification_pb2, prediction_service_pb2_grpc, regression_pb2
    from tfx.components.infra_validator.model_server_clients.tensorflow_serving_client import TensorFlowServingClient

    model = save_v1_classify_and_regress_model(tmp_path)
    base = tmp_path / "serving" / "candidate"
    os.makedirs(base)
    os.symlink(os.path.join(model.uri, "Format-Serving"), base / "1")
    runner = runners.local_process_runner(str(base / "1"), "candidate", memory_limit_mb=8192, max_lifetime_seconds=120)
    try:
        runner.Start()
        runner.WaitUntilRunning(time.time() + 60)
        client = TensorFlowServingClient(runner.GetEndpoint(), "candidate")
        client.WaitUntilModelLoaded(time.time() + 60, polling_interval_sec=1)
        service = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(runner.GetEndpoint()))
        example = tf.train.Example()
        example.features.feature["x"].float_list.value.append(3.0)

        classify = classification_pb2.ClassificationRequest()
        classify.model_spec.name = "candidate"
        classify.input.example_list.examples.append(example)
        result = service.Classify(classify).result.classifications[0]
        assert [c.label for c in result.classes] == ["no", "yes"]
        assert result.classes[1].score == pytest.approx(1 / (1 + math.exp(-3.0)), rel=1e-5)

        regress = regression_pb2.RegressionRequest()
        regress.model_spec.name, regress.model_spec.signature_name = "candidate", "regress"
        regress.input.example_list.examples.append(example)
        assert service.Regress(regress).result.regressions[0].value == pytest.approx(6.0)
    finally:
        runner.Stop()


def test_tfx_builds_classify_requests_for_a_classify_signature_and_the_stand_in_blesses_it(tmp_path):
    blessing = validate(tmp_path, save_v1_classify_and_regress_model(tmp_path), write_examples(tmp_path, [1.0]))
    assert blessed(blessing)


def test_the_server_dies_with_a_killed_validator(tmp_path):
    """SIGKILL gives the validator no `finally`: the server must still go (PR_SET_PDEATHSIG)."""
    import signal
    import subprocess

    model = save_model(tmp_path)
    base = tmp_path / "serving" / "candidate"
    os.makedirs(base)
    os.symlink(os.path.join(model.uri, "Format-Serving"), base / "1")
    validator = subprocess.Popen([sys.executable, "-c", f"""
import sys, time
from components.infra_validator import runners
from pipelines.model_server import processes
runner = runners.local_process_runner({str(base / "1")!r}, "candidate", 8192, 600)
runner.Start()
print(runner._process.pid, flush=True)
time.sleep(600)
"""], stdout=subprocess.PIPE, text=True)
    server = psutil.Process(int(validator.stdout.readline()))
    assert server.is_running()
    validator.send_signal(signal.SIGKILL)
    validator.wait()
    server.wait(timeout=10)  # raises psutil.TimeoutExpired if the server outlives its parent
