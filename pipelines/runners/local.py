"""Runs a pipeline here: LocalDagRunner, Beam's DirectRunner, ML Metadata on SQLite."""
from __future__ import annotations

import glob
import os

from pipelines import mlmd_store
from pipelines.config import PipelineConfig

MB = 1024 * 1024


def input_size_bytes(cfg: PipelineConfig) -> int:
    return sum(os.path.getsize(p) for p in glob.glob(os.path.join(cfg.data_dir, cfg.data.pattern)) if os.path.isfile(p))


def beam_args(cfg: PipelineConfig, input_bytes: int | None = None) -> list[str]:
    """DirectRunner arguments: in-process for small data, where worker start-up would dominate."""
    beam = cfg.runner.beam
    mode = beam.mode
    if mode == "auto":
        size = input_size_bytes(cfg) if input_bytes is None else input_bytes
        mode = "multi_processing" if size >= beam.multi_processing_above_mb * MB else "in_memory"
    workers = 1 if mode == "in_memory" else (beam.workers or os.cpu_count() or 1)
    return [f"--direct_running_mode={mode}", f"--direct_num_workers={workers}", *beam.extra_args]


def metadata_connection_config(cfg: PipelineConfig):
    return mlmd_store.connection_config(cfg)


def metadata_store(cfg: PipelineConfig):
    return mlmd_store.open_store(cfg)


def local_pipeline(cfg: PipelineConfig):
    """The pipeline as LocalDagRunner runs it: create_pipeline with local Beam args and MLMD."""
    from pipelines.assembly import create_pipeline

    return create_pipeline(cfg, beam_args=beam_args(cfg), metadata_connection_config=metadata_connection_config(cfg))


def run(pipeline) -> None:
    """Runs a local_pipeline(); raises what the failing component raised."""
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    LocalDagRunner().run(pipeline)
