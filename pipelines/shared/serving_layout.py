"""The serving folder's layout: all-digit version folders that TF Serving loads, the staging folder a push is
written in first, and what travels inside a pushed version (`assets.extra/`, which TF Serving ignores): the
training split's statistics and where they came from. A rollback copies a folder whole, so "the data the served
model learned from" is read from the serving folder, here and on Kubeflow alike."""
from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from typing import Optional

from tensorflow_metadata.proto.v0 import statistics_pb2

from pipelines.shared import artifact_files
from pipelines.shared.artifact_files import STATISTICS_FILE, TRAIN

STAGING = ".staging"  # TF Serving only loads all-digit folder names: it never sees this one


TRAINING_STATISTICS = os.path.join("assets.extra", "training_statistics")  # inside a pushed version folder


SOURCE_FILE = "source.json"


def attach_training_statistics(statistics_uri: str, version_dir: str, source: dict) -> None:
    """Copies the training split's statistics into a version folder being published, with where they came from."""
    fileio = artifact_files.fileio()
    target = os.path.join(version_dir, TRAINING_STATISTICS)
    split_dir = os.path.join(target, f"Split-{TRAIN}")
    fileio.makedirs(split_dir)
    fileio.copy(os.path.join(statistics_uri, f"Split-{TRAIN}", STATISTICS_FILE),
                os.path.join(split_dir, STATISTICS_FILE), overwrite=True)
    with fileio.open(os.path.join(target, SOURCE_FILE), "w") as f:
        f.write(json.dumps({"statistics_uri": statistics_uri, **source}, sort_keys=True))


SERVED_FILE = ".served_version"  # the folder `stable` points at, written by each rollout (TF Serving ignores it)


def write_served_version(serving_dir: str, folder: int) -> None:
    """Records, beside the version folders, which one the latest rollout serves as stable."""
    path = os.path.join(serving_dir, SERVED_FILE)
    temporary = f"{path}.{os.getpid()}"
    with open(temporary, "w") as f:
        f.write(f"{folder}\n")
    os.replace(temporary, path)


def read_served_version(serving_dir: str) -> Optional[str]:
    """The folder the latest rollout serves as stable, when one recorded it and the folder is still there."""
    path = os.path.join(serving_dir, SERVED_FILE)
    if not artifact_files.exists(path):
        return None
    with artifact_files.open_file(path) as f:
        folder = f.read().strip()
    return folder if folder.isdigit() and artifact_files.exists(os.path.join(serving_dir, folder)) else None


def served_version_dir(serving_dir: str) -> Optional[str]:
    """What is served from a base folder: the folder the latest rollout made stable, else TF Serving's default,
    the highest all-digit version folder (any file system)."""
    if not artifact_files.exists(serving_dir):
        return None
    recorded = read_served_version(serving_dir)
    if recorded is not None:
        return os.path.join(serving_dir, recorded)
    numbers = [int(name.rstrip("/")) for name in artifact_files.listdir(serving_dir) if name.rstrip("/").isdigit()]
    return os.path.join(serving_dir, str(max(numbers))) if numbers else None


@dataclass
class ServedStatistics:
    version_dir: str
    statistics: statistics_pb2.DatasetFeatureStatisticsList
    source: dict  # statistics_uri, and what the Pusher knew: statistics_id, span

    @property
    def version(self) -> str:
        return os.path.basename(self.version_dir.rstrip("/"))


def read_served_statistics(serving_dir: str, version_dir: Optional[str] = None) -> Optional[ServedStatistics]:
    """The training statistics of a version folder (default: the highest, TF Serving's default), or None when
    nothing is served. A version pushed without them (before this existed) is an error: it cannot be
    compared with, and saying "no drift" would be a guess."""
    version_dir = version_dir or served_version_dir(serving_dir)
    if version_dir is None:
        return None
    fileio = artifact_files.fileio()
    path = os.path.join(version_dir, TRAINING_STATISTICS, f"Split-{TRAIN}", STATISTICS_FILE)
    if not fileio.exists(path):
        raise FileNotFoundError(f"the served version {version_dir} carries no training statistics ({path}); "
                                "push a model with this version of the project, or set drift.on_drift: skip")
    statistics = statistics_pb2.DatasetFeatureStatisticsList()
    with fileio.open(path, "rb") as f:
        statistics.ParseFromString(f.read())
    source_path = os.path.join(version_dir, TRAINING_STATISTICS, SOURCE_FILE)
    source = {}
    if fileio.exists(source_path):
        with fileio.open(source_path, "r") as f:
            source = json.loads(f.read())
    return ServedStatistics(version_dir, statistics, source)


def staging_dir(serving_dir: str) -> str:
    return os.path.join(serving_dir, STAGING, uuid.uuid4().hex)
