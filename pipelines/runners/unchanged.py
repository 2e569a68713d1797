"""An unchanged re-run answered without running: when everything a run reads is as it was when the latest run
started, and that run completed, every component would come from TFX's cache anyway. Checked before
TensorFlow or TFX is imported, from files and ML Metadata alone.

What a run reads, fingerprinted when it starts: the whole config (every component's parameters), the data
files' content (data_digest; TFX's ExampleGen driver looks at path, size and modification time only, and ExampleGen is
given the digest too, so that its cache follows the content), the curated schema's bytes,
the project's code and the versions of the TFX stack (executors and module files), and the serving folder's
version folders (what the drift check compares with; a run's own push changes it, so the run after a push runs
again, as TFX's cache would for the drift check). Anything that cannot be fingerprinted this way (data in an
object store, `runner.enable_cache: false`) always runs.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Iterable, Optional

from pipelines.config import PipelineConfig
from pipelines.metadata.reader import MetadataReader, execution_state
from pipelines.shared import artifact_files, serving_layout

RECORD_FILE = ".last_run_inputs.json"  # in the pipeline root, beside TFX's own folders
STACK = ("tfx", "tensorflow", "tensorflow-transform", "tensorflow-model-analysis", "tensorflow-data-validation",
         "tfx-bsl", "ml-metadata", "apache-beam", "keras-tuner", "tf-keras")
PROJECT = Path(__file__).resolve().parents[2]
CODE_FOLDERS = ("pipelines", "components")
REUSABLE = {"complete", "cached"}


def code_files(root: Path = PROJECT) -> list[Path]:
    return sorted(p for folder in CODE_FOLDERS for p in (root / folder).rglob("*.py"))


def fingerprint(cfg: PipelineConfig, code: Optional[Iterable[Path]] = None) -> Optional[str]:
    """A digest of everything a run of `cfg` reads; None when a part cannot be fingerprinted here."""
    if not cfg.runner.enable_cache or artifact_files.is_uri(cfg.data_dir) or artifact_files.is_uri(cfg.serving_dir):
        return None
    digest = hashlib.sha256()

    def part(name: str, value) -> None:
        digest.update(f"{name}\0{value}\0".encode())

    part("config", f"{cfg.source}:{cfg.model_dump_json()}")
    part("privacy", f"{cfg.key_id}:{','.join(cfg.forgotten)}")  # another key, or a forget request: a new run
    part("cores", os.cpu_count())  # Beam's default number of workers, in the components' Beam arguments
    part("data", cfg.data_digest or data_digest(cfg))  # the runner computed it already for ExampleGen
    if cfg.schema_path:
        if artifact_files.is_uri(cfg.schema_path):
            return None
        part("schema", hashlib.sha256(Path(cfg.schema_path).read_bytes()).hexdigest())
    for source in code if code is not None else code_files():
        part("code", f"{source.name}:{hashlib.sha256(source.read_bytes()).hexdigest()}")
    for package in STACK:
        try:
            part("stack", f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            part("stack", f"{package} absent")
    if os.path.isdir(cfg.serving_dir):
        for name in sorted(os.listdir(cfg.serving_dir)):
            if name.isdigit():
                part("served", f"{name}:{os.stat(os.path.join(cfg.serving_dir, name)).st_mtime_ns}")
        part("stable", serving_layout.read_served_version(cfg.serving_dir))  # a rollback changes what drift compares
    return digest.hexdigest()


DIGESTS_FILE = ".data_digests.json"  # in the pipeline root: each data file's content digest and what it was read at


def data_digest(cfg: PipelineConfig) -> str:
    """A digest of the content of the files the next run ingests. TFX's ExampleGen driver fingerprints a file by
    path, size and modification time, which an edit can keep (a label rewritten in place, `touch -d`); the
    content is hashed instead, each file again only when its size, inode, modification or change time differ
    from the last hashing (the change time moves on every write and cannot be set back)."""
    cache_path = os.path.join(cfg.pipeline_root, DIGESTS_FILE)
    try:
        with open(cache_path) as f:
            known = json.load(f)
    except (OSError, ValueError):
        known = {}
    digest, current = hashlib.sha256(), {}
    for path in cfg.input_files():
        status = os.stat(path)
        stamp = [status.st_size, status.st_ino, status.st_mtime_ns, status.st_ctime_ns]
        entry = known.get(path)
        if not entry or entry.get("stamp") != stamp:
            entry = {"stamp": stamp, "sha256": file_sha256(path)}
        current[path] = entry
        digest.update(f"{path}\0{entry['sha256']}\0".encode())
    if current != known:
        os.makedirs(cfg.pipeline_root, exist_ok=True)
        temporary = f"{cache_path}.{os.getpid()}"
        with open(temporary, "w") as f:
            json.dump(current, f)
        os.replace(temporary, cache_path)
    return digest.hexdigest()


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_path(cfg: PipelineConfig) -> str:
    return os.path.join(cfg.pipeline_root, RECORD_FILE)


def record(cfg: PipelineConfig, inputs: Optional[str], run_id: str) -> None:
    """Remembers what the run `run_id` read (only for a run whose every component completed)."""
    path = record_path(cfg)
    if inputs is None:
        if os.path.exists(path):
            os.remove(path)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.{os.getpid()}"
    with open(temporary, "w") as f:
        json.dump({"inputs": inputs, "run_id": run_id}, f)
    os.replace(temporary, path)


def forget(cfg: PipelineConfig) -> None:
    record(cfg, None, "")


@dataclass(frozen=True)
class Match:
    run_id: str


def matching_run(cfg: PipelineConfig, inputs: Optional[str], reader: MetadataReader) -> Optional[Match]:
    """The latest run, when it read exactly `inputs` and every execution of it completed or came from cache;
    None otherwise (then the pipeline runs)."""
    if inputs is None:
        return None
    try:
        with open(record_path(cfg)) as f:
            recorded = json.load(f)
    except (OSError, ValueError):
        return None
    if recorded.get("inputs") != inputs or recorded.get("run_id") != reader.latest_run_id():
        return None
    executions = reader.run_executions(recorded["run_id"])
    if not executions or any(execution_state(e) not in REUSABLE for e in executions):
        return None
    return Match(recorded["run_id"])
