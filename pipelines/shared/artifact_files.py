"""Reading and finding files where artifacts are: local paths with the standard library, URIs (gs://, s3://,
as on Kubeflow) through TFX's file system layer. Only a URI imports TFX's layer (and TensorFlow with it), so
the read commands (`mlops runs`, `report`), which read local files, stay without TensorFlow."""
from __future__ import annotations

import builtins
import glob as local_glob
import os
import shutil
from typing import Any

# A property of ExampleGen's Examples, read by the data gate and the run summary: JSON
# {split: {"examples": written, "unlabelled": rows left out because their label was missing}}.
LABEL_COUNTS_PROPERTY = "label_counts"
HELD_BACK_PROPERTY = "held_back"  # on a PushedModel: why a blessed model was not pushed (the Pusher's reference gate)


def fileio():
    from tfx.dsl.io import fileio as tfx_fileio

    return tfx_fileio


def is_uri(path: str) -> bool:
    return "://" in path


def glob(pattern: str) -> list[str]:
    return sorted(fileio().glob(pattern) if is_uri(pattern) else local_glob.glob(pattern))


def exists(path: str) -> bool:
    return fileio().exists(path) if is_uri(path) else os.path.exists(path)


def listdir(path: str) -> list[str]:
    return fileio().listdir(path) if is_uri(path) else os.listdir(path)


def remove_tree(path: str) -> None:
    """A file, or a folder and everything in it."""
    if is_uri(path) and fileio().isdir(path):
        fileio().rmtree(path)
    elif is_uri(path):
        fileio().remove(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)
    else:
        os.remove(path)


def open_file(path: str, mode: str = "r"):
    return fileio().open(path, mode) if is_uri(path) else builtins.open(path, mode)


def schema_value_types(schema) -> dict[str, str]:
    """{feature: FLOAT|INT|BYTES} of a tensorflow_metadata Schema proto (its features with a type): how CSV
    cells must be encoded in tf.Examples for a model trained with it."""
    names = {1: "BYTES", 2: "INT", 3: "FLOAT"}  # schema_pb2.FeatureType
    return {f.name: names[f.type] for f in schema.feature if f.type in names}


def schema_file_value_types(path: str) -> dict[str, str]:
    """schema_value_types of a schema.pbtxt file (text protobuf; no TensorFlow)."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    with open_file(path, "r") as f:
        return schema_value_types(text_format.Parse(f.read(), schema_pb2.Schema()))

# File names inside artifact folders, as the TFX components that write them name them.
STATISTICS_FILE = "FeatureStats.pb"  # tfx.components.statistics_gen.executor.DEFAULT_FILE_NAME, per Split-<name>
ANOMALIES_FILE = "SchemaDiff.pb"     # tfx.components.example_validator.executor.DEFAULT_FILE_NAME
SCHEMA_FILE = "schema.pbtxt"         # SchemaGen's and ImportSchemaGen's
TRAIN = "train"


def load_schema(schema_uri: str):
    """The schema.pbtxt in a Schema artifact's folder."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    with fileio().open(os.path.join(schema_uri, SCHEMA_FILE), "r") as f:
        return text_format.Parse(f.read(), schema_pb2.Schema())


def read_split_statistics(statistics_uri: str, split: str = TRAIN):
    """One split's DatasetFeatureStatisticsList from a Statistics artifact."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    statistics = statistics_pb2.DatasetFeatureStatisticsList()
    with fileio().open(os.path.join(statistics_uri, f"Split-{split}", STATISTICS_FILE), "rb") as f:
        statistics.ParseFromString(f.read())
    return statistics


def per_split(uri: str, file_name: str, proto_type) -> list[tuple[str, Any]]:
    """(split name, parsed proto) for each Split-<name>/<file_name> under an artifact's URI."""
    parsed = []
    for path in glob(os.path.join(uri, "Split-*", file_name)):
        proto = proto_type()
        with open_file(path, "rb") as f:
            proto.ParseFromString(f.read())
        parsed.append((os.path.basename(os.path.dirname(path))[len("Split-"):], proto))
    return parsed
