"""The Evaluator's output read without TensorFlow: metrics per slice and the failed thresholds.

TFMA writes MetricsForSlice and ValidationResult protos into TFRecord files (`metrics*`,
`validations*`) under the evaluation artifact's URI. `tfma.load_metrics` reads them too, but importing
TFMA imports TensorFlow (8 s); the protos and the TFRecord framing need neither, which keeps
`mlops models` and the other read commands instant.
"""
from __future__ import annotations

import glob
import importlib
import importlib.util
import os
import struct
import sys
import types
from typing import Iterator

TFMA = "tensorflow_model_analysis"
PROTO_MODULES = ("config_pb2", "metrics_for_slice_pb2", "validation_result_pb2")


def read_evaluation(uri: str) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Metrics per slice (slice -> metric -> value), and one line per failed threshold."""
    protos = tfma_protos()
    metrics = {}
    for record in tfrecords(uri, "metrics"):
        per_slice = protos.metrics_for_slice_pb2.MetricsForSlice.FromString(record)
        values = {}
        for kv in per_slice.metric_keys_and_values:
            # With a baseline TFMA reports both models and their difference: keep the candidate's values.
            if kv.value.HasField("double_value") and not kv.key.is_diff and kv.key.model_name in ("", "candidate"):
                values[kv.key.name] = kv.value.double_value.value
        metrics[slice_name(per_slice.slice_key)] = values

    reasons = []
    for record in tfrecords(uri, "validations"):
        validation = protos.validation_result_pb2.ValidationResult.FromString(record)
        for per_slice in validation.metric_validations_per_slice:
            for failure in per_slice.failures:
                reasons.append(f"{failure.metric_key.name}{' (change)' if failure.metric_key.is_diff else ''} "
                               f"= {failure.metric_value.double_value.value:.4g} on {slice_name(per_slice.slice_key)}: "
                               f"{threshold_text(failure.metric_threshold)}")
    return metrics, reasons


def slice_name(slice_key) -> str:
    parts = []
    for key in slice_key.single_slice_keys:
        value = key.bytes_value.decode() if key.HasField("bytes_value") else (
            key.int64_value if key.HasField("int64_value") else key.float_value)
        parts.append(f"{key.column}={value}")
    return ", ".join(parts) or "overall"


def threshold_text(threshold) -> str:
    if threshold.HasField("value_threshold"):
        bounds = threshold.value_threshold
        texts = []
        if bounds.HasField("lower_bound"):
            texts.append(f"needs >= {bounds.lower_bound.value:g}")
        if bounds.HasField("upper_bound"):
            texts.append(f"needs <= {bounds.upper_bound.value:g}")
        return ", ".join(texts)
    change = threshold.change_threshold
    return f"change against the baseline needs {'>=' if change.direction == 1 else '<='} {change.absolute.value:g}"


# --- files ---------------------------------------------------------------------


def tfrecords(uri: str, prefix: str) -> Iterator[bytes]:
    """The records of every `<prefix>*` file under `uri`, in TFRecord framing: a little-endian uint64
    length, its 4-byte CRC, the data, the data's 4-byte CRC (the CRCs are not checked here)."""
    for path in sorted(glob.glob(os.path.join(uri, prefix + "*"))):
        with open(path, "rb") as f:
            while header := f.read(12):
                if len(header) < 12:
                    raise ValueError(f"{path}: truncated TFRecord file")
                (length,) = struct.unpack("<Q", header[:8])
                data = f.read(length)
                if len(data) < length or len(f.read(4)) < 4:
                    raise ValueError(f"{path}: truncated TFRecord file")
                yield data


def tfma_protos() -> types.SimpleNamespace:
    """TFMA's result protos, loaded without running the `tensorflow_model_analysis` package's
    __init__ (which imports TensorFlow). When TFMA is already imported, its own modules are used."""
    names = [f"{TFMA}.proto.{module}" for module in PROTO_MODULES]
    if TFMA in sys.modules or all(name in sys.modules for name in names):
        return types.SimpleNamespace(**{m: importlib.import_module(n) for m, n in zip(PROTO_MODULES, names)})
    spec = importlib.util.find_spec(TFMA)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"{TFMA} is not installed")
    package_dir = list(spec.submodule_search_locations)[0]
    # Empty stand-ins for the two packages, only while the proto modules import each other; the
    # modules stay in sys.modules, so a later real `import tensorflow_model_analysis` reuses them.
    stand_ins = {TFMA: package_dir, f"{TFMA}.proto": os.path.join(package_dir, "proto")}
    for name, path in stand_ins.items():
        module = types.ModuleType(name)
        module.__path__ = [path]
        sys.modules[name] = module
    try:
        return types.SimpleNamespace(**{m: importlib.import_module(n) for m, n in zip(PROTO_MODULES, names)})
    finally:
        for name in stand_ins:
            sys.modules.pop(name, None)
