"""A small client for the model server that does what TF Serving leaves to the caller: traffic splitting.

A request is routed by a stable hash of its key (a user or entity id): `bucket(key) < percent` goes to the
`canary` label, the rest to `stable`, so the same key always meets the same version. In shadow mode every
request goes to `stable`, whose answer is returned, and a copy goes to `canary` in the background; the
server logs the copy's answer (with the `canary` label in the log's model spec). A canary that is gone
(aborted, promoted) or failing is answered by `stable` instead: a rollout never fails a request.

    client = ServingClient.for_config(cfg, reader)       # endpoint, model, the latest rollout's share
    answer = client.predict([example.SerializeToString()], key="user-42")
    answer.outputs["outputs"], answer.label, answer.version
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from pipelines.shared import version_labels

TIMEOUT_SECONDS = 30


@dataclass
class Answer:
    outputs: dict  # output name -> numpy array, one row per example
    label: str     # the label that answered: "stable" or "canary"
    version: int   # the version folder that answered


class ServingClient:
    def __init__(self, endpoint: str, model_name: str, percent: int = 0, mode: str = "canary",
                 signature: str = "serving_default"):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        self.model_name, self.percent, self.mode, self.signature = model_name, percent, mode, signature
        self._channel = grpc.insecure_channel(endpoint)
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._shadows = ThreadPoolExecutor(max_workers=2, thread_name_prefix="shadow")

    @classmethod
    def for_config(cls, cfg, reader, signature: str = "serving_default") -> "ServingClient":
        """The config's server, split as the latest rollout says (no canary: everything to stable)."""
        from pipelines.metadata.rollouts import current_state
        from pipelines.serving.server import endpoint

        state = current_state(reader) or version_labels.ServingState()
        percent = state.percent if state.canary is not None else 0
        return cls(endpoint(cfg), cfg.name, percent, state.mode, signature)

    def close(self) -> None:
        """Waits for shadow copies in flight, then closes the channel."""
        self._shadows.shutdown(wait=True)
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()

    def route(self, key: str) -> str:
        if self.mode == "canary" and version_labels.routes_to_canary(key, self.percent):
            return version_labels.CANARY
        return version_labels.STABLE

    def predict(self, serialized_examples: list[bytes], key: str) -> Answer:
        request = self._request(serialized_examples)
        if self.mode == "shadow" and self.percent > 0 and version_labels.routes_to_canary(key, self.percent):
            self._shadows.submit(self._shadow_copy, request)
        label = self.route(key)
        if label == version_labels.CANARY:
            try:
                return self._send(request, label)
            except Exception as error:  # noqa: BLE001 - grpc.RpcError: the canary is gone or failing
                logging.warning("canary did not answer (%s); answered by stable", _reason(error))
        return self._send(request, version_labels.STABLE)

    def _request(self, serialized_examples: list[bytes]):
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        request.model_spec.name, request.model_spec.signature_name = self.model_name, self.signature
        request.inputs["examples"].CopyFrom(tf.make_tensor_proto(serialized_examples, dtype=tf.string))
        return request

    def _send(self, request, label: str) -> Answer:
        import tensorflow as tf

        labelled = type(request)()
        labelled.CopyFrom(request)
        labelled.model_spec.version_label = label
        response = self._stub.Predict(labelled, timeout=TIMEOUT_SECONDS)
        outputs = {name: tf.make_ndarray(tensor) for name, tensor in response.outputs.items()}
        return Answer(outputs, label, response.model_spec.version.value)

    def _shadow_copy(self, request) -> None:
        try:
            self._send(request, version_labels.CANARY)
        except Exception as error:  # noqa: BLE001 - a shadow's failure never reaches the caller
            logging.warning("shadow copy to canary failed: %s", _reason(error))


@contextmanager
def answering_server(cfg):
    """A server that is not there, or refuses a request, becomes one RuntimeError that says so."""
    import grpc

    from pipelines.serving.server import endpoint

    try:
        yield
    except grpc.RpcError as error:
        if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise RuntimeError(f"the model server at {endpoint(cfg)} did not answer: {error.details()} "
                               "(is `mlops serve` running?)") from None
        raise RuntimeError(f"the model server at {endpoint(cfg)} refused a request: {error.code().name}: "
                           f"{error.details()}") from None


def _reason(error: Exception) -> str:
    details = getattr(error, "details", None)
    return details() if callable(details) else str(error)
