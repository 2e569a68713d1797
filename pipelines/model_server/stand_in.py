"""A stand-in for tensorflow_model_server, for machines without the binary or Docker.

It loads SavedModels (TF Serving's layout: <base_path>/<version>/) with TensorFlow in this process and
answers TF Serving's gRPC API from the tensorflow-serving-api protos: ModelService GetModelStatus and
HandleReloadConfigRequest, and PredictionService Predict, Classify and Regress. The InfraValidator and
`mlops serve` talk to it with the same client code as to the real binary.

Like the binary it takes either one model (--model_name, --model_base_path: the latest version) or a
ModelServerConfig (--model_config_file, text format) with version policies and version labels, and it
keeps TF Serving's rules (checked against TF Serving 2.16's documentation and protos, not its binary):
- a reload replaces the whole config: versions and models left out are unloaded;
- a label may only point at an AVAILABLE version; at start-up, and for a label not yet in use, an
  unavailable one is allowed with --allow_version_labels_for_unavailable_models. So moving a label in use
  to a new version takes two reloads: load the version, then move the label;
- a request names a version, a label, or neither (the highest available version).
A model's `logging_config` (sampling rate, filename prefix) logs sampled Predict requests with their
responses as PredictionLog TFRecords, which the open-source binary cannot do without a plugin; a reload
that changes it applies it, in a new file.

What it checks: the SavedModel loads with TensorFlow and its signatures answer real requests, in a
fresh interpreter with nothing of the pipeline imported. What it does not check: that TF Serving's
C++ runtime has every op the model uses. The blessing says which platform validated a model.

Run as a script (`python -I stand_in.py ...`): it imports nothing from this project.
It exits when its parent process is gone, or after --max_lifetime_seconds when given.
"""
import argparse
import contextlib
import json
import os
import random
import sys
import threading
import time
from concurrent import futures
from typing import Optional

import grpc
import tensorflow as tf
from google.protobuf import text_format
from google.protobuf.message import DecodeError
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_log_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)
from tensorflow_serving.config import model_server_config_pb2

State = get_model_status_pb2.ModelVersionStatus.State
DEFAULT_SIGNATURE = "serving_default"


class Rejected(Exception):
    """A request or a config the server refuses, with TF Serving's status code."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class Version:
    """One version of a model: its loading state, signatures and SignatureDefs."""

    def __init__(self, model_name: str, number: int, path: str):
        self.model_name, self.number, self.path = model_name, number, path
        self.state, self.error = State.START, ""
        self.signatures: dict[str, object] = {}
        self.signature_defs: dict[str, meta_graph_pb2.SignatureDef] = {}
        self.unloaded = False  # set by a reload that drops the version, possibly while it is still loading

    def load(self) -> None:
        self.state = State.LOADING
        try:
            self.signature_defs = read_signature_defs(self.path)
            signatures = dict(tf.saved_model.load(self.path, tags=["serve"]).signatures)
            if self.unloaded:
                return
            self.signatures, self.state = signatures, State.AVAILABLE
            print(f"model {self.model_name} version {self.number} is AVAILABLE", flush=True)
        except Exception as error:  # any load failure ends the version, as in TF Serving
            self.error = f"{type(error).__name__}: {error}"
            self.state = State.END
            print(f"LOAD FAILED: model {self.model_name} version {self.number}: {self.error}", flush=True)

    def signature(self, signature_name: str, method: str):
        name = signature_name or DEFAULT_SIGNATURE
        if name not in self.signatures:
            raise Rejected(grpc.StatusCode.FAILED_PRECONDITION, f"Serving signature name: \"{name}\" not found")
        if self.signature_defs[name].method_name != method:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT,
                           f"signature {name} has method {self.signature_defs[name].method_name}, not {method}")
        return name, self.signatures[name]


class RequestLog:
    """Sampled requests and responses as PredictionLog records in TFRecord files: a new file per logging config
    (a reload that changes it closes this one), per `max_file_bytes`, and after a failed write; the oldest files
    of the prefix are deleted beyond `max_total_bytes`. A write that fails (a full disk) never fails the
    request: it is counted and said in the server's log (at the 1st, 2nd, 4th, ... failure), and logging is
    tried again in a new file after a back-off that doubles up to MAX_BACKOFF_SECONDS; meanwhile a record is
    dropped and counted at no cost, so a full disk does not slow serving."""

    MAX_BACKOFF_SECONDS = 30.0

    def __init__(self, logging_config, max_file_bytes: int = 64 << 20, max_total_bytes: int = 1 << 30):
        self.config = logging_config
        self.rate = logging_config.sampling_config.sampling_rate
        self.prefix = logging_config.log_collector_config.filename_prefix
        self.max_file_bytes, self.max_total_bytes = max_file_bytes, max_total_bytes
        os.makedirs(os.path.dirname(os.path.abspath(self.prefix)), exist_ok=True)
        self.writer, self.lock, self.closed = None, threading.Lock(), False
        self.path, self.written, self.files, self.failures, self.dropped = "", 0, 0, 0, 0
        self.retry_at, self.backoff = 0.0, 0.0

    def write(self, log: prediction_log_pb2.PredictionLog) -> None:
        if random.random() >= self.rate:
            return
        with self.lock:
            if self.closed:  # a reload replaced this log while the request ran
                return
            if self.writer is None and time.monotonic() < self.retry_at:  # backing off after a failure
                self.dropped += 1
                return
            try:
                writer = self.writer if self.writer is not None else self._open()
                record = log.SerializeToString()
                writer.write(record)
                writer.flush()  # complete records on disk: `mlops monitor` may read while the server runs
                self.written += len(record) + 16  # TFRecord framing: length, its CRC, the record's CRC
                self.backoff = 0.0
                if self.written >= self.max_file_bytes:
                    self._finish()
            except Exception as error:  # noqa: BLE001 - a full disk, a removed folder: the request still answers
                self.failures += 1
                if self.failures & (self.failures - 1) == 0:  # the 1st, 2nd, 4th, 8th ...: the log stays small
                    print(f"request log: write failed ({self.failures} so far, {self.dropped} records dropped while "
                          f"waiting to retry; the requests were answered): "
                          f"{str(error).splitlines()[0] if str(error) else type(error).__name__}", flush=True)
                self._finish(failed=True)
                self.backoff = min(self.MAX_BACKOFF_SECONDS, max(0.5, self.backoff * 2))
                self.retry_at = time.monotonic() + self.backoff

    def _open(self) -> tf.io.TFRecordWriter:
        # ms and a counter: a reload, a rotation or a failure starts a new file
        self.path = f"{self.prefix}-{int(time.time() * 1000)}-{os.getpid()}-{self.files:04d}.tfrecord"
        self.files += 1
        self.writer, self.written = tf.io.TFRecordWriter(self.path), 0
        self._bound_total()
        return self.writer

    def _finish(self, failed: bool = False) -> None:
        writer, self.writer = self.writer, None
        if writer is not None:
            with contextlib.suppress(Exception):  # closing a file on a full disk may fail too
                writer.close()
        if failed and self.written == 0:  # nothing in it: no empty file left behind for each failure
            with contextlib.suppress(OSError):
                os.remove(self.path)

    def _bound_total(self) -> None:
        """Deletes the prefix's oldest files until the rest fits in max_total_bytes."""
        folder, stem = os.path.split(os.path.abspath(self.prefix))
        files = sorted((os.path.join(folder, n) for n in os.listdir(folder) if n.startswith(stem + "-")),
                       key=os.path.getmtime)
        sizes = {f: os.path.getsize(f) for f in files}
        total = sum(sizes.values())
        for oldest in files:
            if total <= self.max_total_bytes or oldest == self.path:
                break
            os.remove(oldest)
            total -= sizes[oldest]

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self._finish()


class Model:
    """A model's versions, labels and request log, as the current config says."""

    def __init__(self, name: str):
        self.name = name
        self.base_path = ""
        self.versions: dict[int, Version] = {}
        self.ended: dict[int, Version] = {}  # unloaded or failed versions, still reported by GetModelStatus
        self.labels: dict[str, int] = {}
        self.request_log: Optional[RequestLog] = None

    def available(self, number: int) -> bool:
        return number in self.versions and self.versions[number].state == State.AVAILABLE


class Servables:
    """Every model the server has, behind one lock; `apply` is a config (at start-up or a reload)."""

    def __init__(self, allow_labels_for_unavailable: bool, request_log_limits: tuple[int, int] = (64 << 20, 1 << 30),
                 logged_features: Optional[frozenset] = None):
        self.models: dict[str, Model] = {}
        self.logged_features = logged_features  # all a request log keeps of an example (None: everything)
        self.allow_labels_for_unavailable = allow_labels_for_unavailable
        self.request_log_limits = request_log_limits  # (bytes per file, bytes in all files of a prefix)
        self.lock = threading.Lock()

    def apply(self, config: model_server_config_pb2.ModelServerConfig) -> None:
        with self.lock:
            wanted = {model_config.name: model_config for model_config in config.model_config_list.config}
            for name in set(self.models) - set(wanted):
                removed = self.models.pop(name)
                self._unload(removed, set(removed.versions))
            problems = []
            for name, model_config in wanted.items():
                model = self.models.setdefault(name, Model(name))
                self._set_versions(model, model_config)
                self._set_request_log(model, model_config)
                problems += self._set_labels(model, dict(model_config.version_labels))
        if problems:
            raise Rejected(grpc.StatusCode.FAILED_PRECONDITION, "; ".join(problems))

    def _set_versions(self, model: Model, model_config) -> None:
        model.base_path = model_config.base_path
        numbers = wanted_versions(model_config)
        self._unload(model, set(model.versions) - numbers)
        for number in sorted(numbers - set(model.versions)):
            version = Version(model.name, number, os.path.join(model.base_path, str(number)))
            model.versions[number] = version
            model.ended.pop(number, None)
            threading.Thread(target=version.load, daemon=True).start()

    def _set_request_log(self, model: Model, model_config) -> None:
        """As TF Serving: a reload that changes the logging config (rate, prefix, or none) applies it."""
        wanted = model_config.logging_config if model_config.HasField("logging_config") else None
        if wanted == (model.request_log.config if model.request_log else None):
            return
        if model.request_log is not None:
            model.request_log.close()
        model.request_log = RequestLog(wanted, *self.request_log_limits) if wanted is not None else None

    @staticmethod
    def _unload(model: Model, numbers: set) -> None:
        for number in numbers:
            version = model.versions.pop(number)
            version.unloaded = True
            version.state, version.signatures = State.END, {}  # requests already running keep their signature
            model.ended[number] = version
            print(f"model {model.name} version {number} unloaded", flush=True)

    def _set_labels(self, model: Model, labels: dict) -> list[str]:
        """TF Serving's label rules; on a refusal the model keeps its labels (its versions are changed)."""
        problems = []
        for label, number in sorted(labels.items()):
            allowed = label not in model.labels and self.allow_labels_for_unavailable
            if not model.available(number) and not allowed:
                problems.append(f"Request to assign label to version {number} of model {model.name}, which is not "
                                "currently available for inference")
        if not problems:
            model.labels = labels
        return problems

    def version_for(self, model_spec) -> tuple[Model, Version]:
        with self.lock:
            model = self.models.get(model_spec.name)
            if model is None:
                raise Rejected(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({model_spec.name})")
            if model_spec.HasField("version"):
                number = model_spec.version.value
            elif model_spec.version_label:
                if model_spec.version_label not in model.labels:
                    raise Rejected(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"Unrecognized servable version label: {model_spec.version_label}")
                number = model.labels[model_spec.version_label]
            else:
                available = [n for n in model.versions if model.available(n)]
                if not available:
                    errors = "; ".join(v.error for v in model.ended.values() if v.error)
                    raise Rejected(grpc.StatusCode.UNAVAILABLE, f"model {model.name} has no available version"
                                   + (f": {errors}" if errors else ""))
                number = max(available)
            if not model.available(number):
                raise Rejected(grpc.StatusCode.UNAVAILABLE if number in model.versions else grpc.StatusCode.NOT_FOUND,
                               f"Servable not found for request: Specific({model.name}, {number})")
            return model, model.versions[number]

    def status(self, model_spec) -> list[Version]:
        with self.lock:
            model = self.models.get(model_spec.name)
            if model is None:
                raise Rejected(grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {model_spec.name}")
            versions = {**model.ended, **model.versions}
            if model_spec.HasField("version"):
                if model_spec.version.value not in versions:
                    raise Rejected(grpc.StatusCode.NOT_FOUND, f"Could not find version {model_spec.version.value} "
                                                              f"of model {model.name}")
                return [versions[model_spec.version.value]]
            return [versions[n] for n in sorted(versions)]


def wanted_versions(model_config) -> set:
    """The version numbers a model config's policy asks for (TF Serving's default: the latest one)."""
    on_disk = sorted(int(entry) for entry in os.listdir(model_config.base_path) if entry.isdigit()) \
        if os.path.isdir(model_config.base_path) else []
    policy = model_config.model_version_policy
    which = policy.WhichOneof("policy_choice")
    if which == "specific":
        return set(policy.specific.versions)
    if which == "all":
        return set(on_disk)
    count = policy.latest.num_versions if which == "latest" and policy.latest.num_versions else 1
    return set(on_disk[-count:])


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


def run(signature, **inputs) -> dict:
    try:
        return {key: value.numpy() for key, value in signature(**inputs).items()}
    except Exception as error:  # the model failed on this request: TF Serving answers INVALID_ARGUMENT
        raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"{type(error).__name__}: {error}") from None


def answering(method):
    """A servicer method whose Rejected becomes the gRPC status TF Serving would send."""
    def wrapper(self, request, context):
        try:
            return method(self, request, context)
        except Rejected as rejected:
            context.abort(rejected.code, rejected.message)
    return wrapper


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, servables: Servables):
        self.servables = servables

    @answering
    def GetModelStatus(self, request, context):
        response = get_model_status_pb2.GetModelStatusResponse()
        for version in self.servables.status(request.model_spec):
            status = response.model_version_status.add(version=version.number, state=version.state)
            if version.error:
                status.status.error_code = 3  # INVALID_ARGUMENT, as TF Serving reports a failed load
                status.status.error_message = version.error
        return response

    @answering
    def HandleReloadConfigRequest(self, request, context):
        self.servables.apply(request.config)
        print(f"config reloaded: {text_format.MessageToString(request.config, as_one_line=True)}", flush=True)
        return model_management_pb2.ReloadConfigResponse()


MAX_TENSOR_ELEMENTS = 10_000_000  # per input tensor: 40 MB of floats, far more than any batch of examples
MAX_MESSAGE_BYTES = 64 << 20     # per request, as received
MAX_REQUEST_MEMORY = 256 << 20   # what one request's inputs may take once turned into tensors
MAX_MEMORY_IN_FLIGHT = 1 << 30   # what all requests being answered may take together
MAX_CONCURRENT_REQUESTS = 32     # past this gRPC answers RESOURCE_EXHAUSTED at once (8 threads answer)
STRING_OVERHEAD = 32             # bytes a tensor's string element costs beside its characters


def check_size(key: str, tensor) -> int:
    """The bytes an input tensor will take once converted (its declared shape filled, as TensorFlow fills a
    proto that sends fewer values than it declares by repeating the last one), checked before anything is
    allocated: a declared shape of more than MAX_TENSOR_ELEMENTS values or with more values sent than declared
    is INVALID_ARGUMENT; one that would take more than MAX_REQUEST_MEMORY is RESOURCE_EXHAUSTED."""
    elements = 1
    for dim in tensor.tensor_shape.dim:
        if dim.size < 0:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"input {key!r}: a dimension of size {dim.size}")
        elements *= dim.size
        if elements > MAX_TENSOR_ELEMENTS:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT,
                           f"input {key!r} declares more than {MAX_TENSOR_ELEMENTS} values: refused")
    if tensor.dtype == tf.string.as_datatype_enum:
        sent = tensor.string_val
        if len(sent) > elements:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT,
                           f"input {key!r} sends {len(sent)} strings for a shape of {elements}")
        filled = (elements - len(sent)) * len(sent[-1]) if sent else 0
        cost = sum(len(v) for v in sent) + filled + elements * STRING_OVERHEAD
    else:
        cost = elements * tf.as_dtype(tensor.dtype).size
    if cost > MAX_REQUEST_MEMORY:
        raise Rejected(grpc.StatusCode.RESOURCE_EXHAUSTED,
                       f"input {key!r} would take {cost >> 20} MB once converted ({tensor.ByteSize()} bytes sent), "
                       f"more than the {MAX_REQUEST_MEMORY >> 20} MB a request may")
    return cost


class MemoryBudget:
    """What the requests being answered may take together: a request that would go over it is refused with
    RESOURCE_EXHAUSTED rather than waited for, so that the server's memory stays bounded."""

    def __init__(self, limit: int = MAX_MEMORY_IN_FLIGHT):
        self.limit, self.used, self._lock = limit, 0, threading.Lock()

    @contextlib.contextmanager
    def taken(self, cost: int):
        with self._lock:
            if self.used + cost > self.limit:
                raise Rejected(grpc.StatusCode.RESOURCE_EXHAUSTED, "the server is answering as much as its memory "
                                                                   "allows: try again")
            self.used += cost
        try:
            yield
        finally:
            with self._lock:
                self.used -= cost


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, servables: Servables, budget: Optional[MemoryBudget] = None):
        self.servables = servables
        self.budget = budget or MemoryBudget()

    @answering
    def Predict(self, request, context):
        model, version = self.servables.version_for(request.model_spec)
        name, signature = version.signature(request.model_spec.signature_name, tf.saved_model.PREDICT_METHOD_NAME)
        # Before anything is allocated: a few bytes may declare gigabytes.
        cost = sum(check_size(key, tensor) for key, tensor in request.inputs.items())
        if cost > MAX_REQUEST_MEMORY:
            raise Rejected(grpc.StatusCode.RESOURCE_EXHAUSTED, f"the inputs would take {cost >> 20} MB once converted, "
                                                               f"more than the {MAX_REQUEST_MEMORY >> 20} MB a request may")
        with self.budget.taken(cost):
            inputs = {key: tf.constant(tf.make_ndarray(tensor)) for key, tensor in request.inputs.items()}
            outputs = run(signature, **inputs)
        response = predict_pb2.PredictResponse()
        response.model_spec.name, response.model_spec.signature_name = model.name, name
        response.model_spec.version.value = version.number
        for key, value in outputs.items():
            if not request.output_filter or key in request.output_filter:
                response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        if model.request_log is not None:
            logged = only_features(request, self.servables.logged_features)
            model.request_log.write(prediction_log(logged, response, model.request_log.rate))
        return response

    @answering
    def Classify(self, request, context):
        model, version, name, outputs = self._run_on_examples(request, tf.saved_model.CLASSIFY_METHOD_NAME)
        response = classification_pb2.ClassificationResponse(result=classification_result(outputs))
        response.model_spec.name, response.model_spec.signature_name = model.name, name
        response.model_spec.version.value = version.number
        return response

    @answering
    def Regress(self, request, context):
        model, version, name, outputs = self._run_on_examples(request, tf.saved_model.REGRESS_METHOD_NAME)
        response = regression_pb2.RegressionResponse(result=regression_result(outputs))
        response.model_spec.name, response.model_spec.signature_name = model.name, name
        response.model_spec.version.value = version.number
        return response

    def _run_on_examples(self, request, method: str):
        """Classify/Regress: the signature's one input takes the request's serialized tf.Examples."""
        model, version = self.servables.version_for(request.model_spec)
        name, signature = version.signature(request.model_spec.signature_name, method)
        examples = tf.constant(serialized_examples(request))
        return model, version, name, run(signature, **{single_string_input(signature): examples})


def only_features(request, names: Optional[frozenset]):
    """The request with every feature but `names` taken out of each tf.Example it carries (what the model does
    not take, dropped or unknown columns included, and personal ones: their values must not reach the request
    log); the request itself when `names` is None."""
    if names is None:
        return request
    logged = predict_pb2.PredictRequest()
    logged.CopyFrom(request)
    for tensor in logged.inputs.values():
        if tensor.dtype != tf.string.as_datatype_enum:
            continue
        kept = []
        for serialized in tensor.string_val:
            try:
                example = tf.train.Example.FromString(serialized)
            except DecodeError:  # not an example (the model refused it already, or takes plain strings): not logged
                kept.append(b"")
                continue
            for name in set(example.features.feature) - names:
                del example.features.feature[name]
            kept.append(example.SerializeToString())
        del tensor.string_val[:]
        tensor.string_val.extend(kept)
    return logged


def prediction_log(request, response, sampling_rate: float) -> prediction_log_pb2.PredictionLog:
    log = prediction_log_pb2.PredictionLog()
    log.log_metadata.model_spec.CopyFrom(response.model_spec)
    log.log_metadata.model_spec.version_label = request.model_spec.version_label
    log.log_metadata.sampling_config.sampling_rate = sampling_rate
    log.log_metadata.timestamp_secs = int(time.time())
    log.predict_log.request.CopyFrom(request)
    log.predict_log.response.CopyFrom(response)
    return log


def classification_result(outputs: dict) -> classification_pb2.ClassificationResult:
    """TF Serving's Classify outputs: `classes` (strings) and/or `scores`, one row per example."""
    classes, scores = outputs.get("classes"), outputs.get("scores")
    rows = scores if scores is not None else classes
    result = classification_pb2.ClassificationResult()
    if rows is None:  # a classification signature has one of them (checked when the version loaded)
        return result
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


def startup_config(args) -> model_server_config_pb2.ModelServerConfig:
    config = model_server_config_pb2.ModelServerConfig()
    if args.model_config_file:
        with open(args.model_config_file) as f:
            text_format.Parse(f.read(), config)
    else:
        config.model_config_list.config.add(name=args.model_name, base_path=args.model_base_path)
    return config


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (0.0.0.0: every interface)")
    parser.add_argument("--request_log_max_file_mb", type=float, default=64)
    parser.add_argument("--request_log_max_total_mb", type=float, default=1024)
    parser.add_argument("--model_name")
    parser.add_argument("--model_base_path")
    parser.add_argument("--model_config_file", help="a ModelServerConfig in text format")
    parser.add_argument("--allow_version_labels_for_unavailable_models", action="store_true")
    parser.add_argument("--max_lifetime_seconds", type=float)
    parser.add_argument("--request_log_keep", help="a JSON list: the only features written to the request log (the "
                                                   "model's, personal ones left out); default: every feature")
    args = parser.parse_args(argv)
    if not args.model_config_file and not (args.model_name and args.model_base_path):
        parser.error("give --model_config_file, or --model_name and --model_base_path")
    parent = os.getppid()
    deadline = time.time() + args.max_lifetime_seconds if args.max_lifetime_seconds else float("inf")

    servables = Servables(args.allow_version_labels_for_unavailable_models,
                          (int(args.request_log_max_file_mb * (1 << 20)), int(args.request_log_max_total_mb * (1 << 20))),
                          frozenset(json.loads(args.request_log_keep)) if args.request_log_keep else None)
    try:
        servables.apply(startup_config(args))  # loads in the background: status answers LOADING meanwhile
    except Rejected as rejected:
        print(f"config refused: {rejected.message}", flush=True)
        return 1
    # No SO_REUSEPORT (gRPC's default): with it a second server binds the same port and clients are split.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), maximum_concurrent_rpcs=MAX_CONCURRENT_REQUESTS,
                         options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)])
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(servables), server)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(servables), server)
    address = f"[{args.host}]:{args.port}" if ":" in args.host else f"{args.host}:{args.port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:  # newer gRPC raises where older returns 0
        bound = 0
    if not bound:
        print(f"cannot listen on {address}: the port is taken by another process", flush=True)
        return 1
    server.start()
    print(f"listening on {address}", flush=True)

    # Never outlive the process that started it: stop when the parent is gone or the lifetime is over.
    while os.getppid() == parent and time.time() < deadline:
        time.sleep(0.5)
    print("stopping: " + ("parent process gone" if os.getppid() != parent else "max lifetime reached"), flush=True)
    server.stop(grace=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
