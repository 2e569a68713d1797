"""A stand-in for tensorflow_model_server, for machines without the binary or Docker.

It loads one SavedModel (TF Serving's layout: <base_path>/<version>/) with TensorFlow in this
process and answers TF Serving's gRPC API from the tensorflow-serving-api protos: ModelService
GetModelStatus, and PredictionService Predict, Classify and Regress. The InfraValidator talks to it
with TFX's own TF Serving client, exactly as it talks to the real binary.

What it checks: the SavedModel loads with TensorFlow and its signatures answer real requests, in a
fresh interpreter with nothing of the pipeline imported. What it does not check: that TF Serving's
C++ runtime has every op the model uses. The blessing says which platform validated a model.

Run as a script (`python -I local_model_server.py ...`): it imports nothing from this project.
It exits by itself after --max-lifetime-seconds or when its parent process is gone.
"""
import argparse
import os
import sys
import threading
import time
from concurrent import futures

import grpc
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (classification_pb2, get_model_status_pb2, model_service_pb2_grpc,
                                     predict_pb2, prediction_service_pb2_grpc, regression_pb2)

State = get_model_status_pb2.ModelVersionStatus.State
DEFAULT_SIGNATURE = "serving_default"


class LoadedModel:
    """One model version: loading state, the loaded signatures and their SignatureDefs."""

    def __init__(self, name: str, base_path: str):
        self.name = name
        self.base_path = base_path
        self.version = latest_version(base_path)
        self.state = State.START
        self.error = ""
        self.signatures = {}
        self.signature_defs = {}

    def load(self) -> None:
        self.state = State.LOADING
        path = os.path.join(self.base_path, str(self.version))
        try:
            self.signature_defs = read_signature_defs(path)
            self.signatures = dict(tf.saved_model.load(path, tags=["serve"]).signatures)
            self.state = State.AVAILABLE
            print(f"model {self.name} version {self.version} is AVAILABLE", flush=True)
        except Exception as error:  # any load failure ends the version, as in TF Serving
            self.error = f"{type(error).__name__}: {error}"
            self.state = State.END
            print(f"LOAD FAILED: {self.error}", flush=True)

    def signature(self, model_spec, context, method: str):
        if model_spec.name != self.name:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {model_spec.name}")
        if self.state != State.AVAILABLE:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"model {self.name} is not available: {self.error}")
        name = model_spec.signature_name or DEFAULT_SIGNATURE
        if name not in self.signatures:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"Serving signature name: \"{name}\" not found")
        if self.signature_defs[name].method_name != method:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"signature {name} has method {self.signature_defs[name].method_name}, not {method}")
        return name, self.signatures[name]


def latest_version(base_path: str) -> int:
    versions = [int(entry) for entry in os.listdir(base_path) if entry.isdigit()]
    if not versions:
        raise FileNotFoundError(f"no numeric version folder in {base_path}")
    return max(versions)


def read_signature_defs(path: str) -> dict:
    """SignatureDefs of the 'serve' MetaGraph (they carry the method name Classify/Regress need)."""
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    for meta_graph in saved_model.meta_graphs:
        if "serve" in meta_graph.meta_info_def.tags:
            return dict(meta_graph.signature_def)
    raise ValueError(f"{path} has no MetaGraph tagged 'serve'")


def serialized_examples(request) -> list[bytes]:
    return [example.SerializeToString() for example in request.input.example_list.examples]


def single_string_input(signature) -> str:
    """The one input key of a Classify/Regress signature, which takes serialized tf.Examples."""
    _, inputs = signature.structured_input_signature
    (key,) = inputs
    return key


def run(signature, context, **inputs) -> dict:
    try:
        return {key: value.numpy() for key, value in signature(**inputs).items()}
    except Exception as error:  # the model failed on this request: TF Serving answers INVALID_ARGUMENT
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{type(error).__name__}: {error}")


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, model: LoadedModel):
        self.model = model

    def GetModelStatus(self, request, context):
        if request.model_spec.name != self.model.name:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {request.model_spec.name}")
        response = get_model_status_pb2.GetModelStatusResponse()
        status = response.model_version_status.add(version=self.model.version, state=self.model.state)
        if self.model.error:
            status.status.error_code = 3  # INVALID_ARGUMENT, as TF Serving reports a failed load
            status.status.error_message = self.model.error
        return response


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, model: LoadedModel):
        self.model = model

    def Predict(self, request, context):
        name, signature = self.model.signature(request.model_spec, context, tf.saved_model.PREDICT_METHOD_NAME)
        inputs = {key: tf.constant(tf.make_ndarray(tensor)) for key, tensor in request.inputs.items()}
        outputs = run(signature, context, **inputs)
        response = predict_pb2.PredictResponse()
        response.model_spec.name, response.model_spec.signature_name = self.model.name, name
        response.model_spec.version.value = self.model.version
        for key, value in outputs.items():
            if not request.output_filter or key in request.output_filter:
                response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response

    def Classify(self, request, context):
        name, outputs = self._run_on_examples(request, context, tf.saved_model.CLASSIFY_METHOD_NAME)
        response = classification_pb2.ClassificationResponse(result=classification_result(outputs))
        response.model_spec.name, response.model_spec.signature_name = self.model.name, name
        return response

    def Regress(self, request, context):
        name, outputs = self._run_on_examples(request, context, tf.saved_model.REGRESS_METHOD_NAME)
        response = regression_pb2.RegressionResponse(result=regression_result(outputs))
        response.model_spec.name, response.model_spec.signature_name = self.model.name, name
        return response

    def _run_on_examples(self, request, context, method: str) -> tuple[str, dict]:
        """Classify/Regress: the signature's one input takes the request's serialized tf.Examples."""
        name, signature = self.model.signature(request.model_spec, context, method)
        examples = tf.constant(serialized_examples(request))
        return name, run(signature, context, **{single_string_input(signature): examples})


def classification_result(outputs: dict) -> classification_pb2.ClassificationResult:
    """TF Serving's Classify outputs: `classes` (strings) and/or `scores`, one row per example."""
    classes, scores = outputs.get("classes"), outputs.get("scores")
    rows = scores if scores is not None else classes
    result = classification_pb2.ClassificationResult()
    for row in range(len(rows)):
        classifications = result.classifications.add()
        for column in range(len(rows[row])):
            classifications.classes.add(label=classes[row][column].decode() if classes is not None else "",
                                        score=float(scores[row][column]) if scores is not None else 0.0)
    return result


def regression_result(outputs: dict) -> regression_pb2.RegressionResult:
    result = regression_pb2.RegressionResult()
    for value in outputs["outputs"].reshape(-1):
        result.regressions.add(value=float(value))
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model_name", required=True)
    parser.add_argument("--model_base_path", required=True)
    parser.add_argument("--max_lifetime_seconds", type=float, default=3600)
    args = parser.parse_args(argv)
    parent, deadline = os.getppid(), time.time() + args.max_lifetime_seconds

    model = LoadedModel(args.model_name, args.model_base_path)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(model), server)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(model), server)
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    print(f"listening on 127.0.0.1:{args.port}", flush=True)
    threading.Thread(target=model.load, daemon=True).start()  # status answers LOADING meanwhile

    # Never outlive the validator: stop when the parent is gone or the lifetime is over.
    while os.getppid() == parent and time.time() < deadline:
        time.sleep(0.5)
    print("stopping: " + ("parent process gone" if os.getppid() != parent else "max lifetime reached"), flush=True)
    server.stop(grace=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
