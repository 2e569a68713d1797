"""`mlops compile` and `submit`: the pipeline for Kubeflow Pipelines (or Vertex AI), and its runs there."""
from __future__ import annotations

import argparse
import os

from pipelines.cli.errors import EXIT_OK


def compile_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", choices=["kubeflow", "vertex"], default="kubeflow",
                        help="kubeflow: PipelineSpec YAML, schema 2.1.0 (KFP 2.x); vertex: PipelineJob JSON")
    parser.add_argument("-o", "--output", required=True, help="pipeline.yaml (kubeflow) or pipeline.json (vertex)")


def submit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--schedule", action="store_true", help="create a recurring run from kubeflow.schedule")
    parser.add_argument("--package", help="an already compiled pipeline.yaml (default: compile now)")


def compile_pipeline(args, cfg) -> int:
    from pipelines.runners import kubeflow
    from pipelines.shared.console import quiet_libraries

    with quiet_libraries():
        kubeflow.compile_pipeline(cfg, args.output, args.target)
    print(f"{args.output}: {cfg.name} for {args.target} (image {cfg.kubeflow.image})")
    return EXIT_OK


def submit(args, cfg) -> int:
    import tempfile

    from pipelines.runners import kubeflow
    from pipelines.shared.console import quiet_libraries

    package = args.package
    with tempfile.TemporaryDirectory() as tmp, quiet_libraries():
        if package is None:
            package = os.path.join(tmp, "pipeline.yaml")
            kubeflow.compile_pipeline(cfg, package)
        submitted = kubeflow.submit(cfg, package, schedule=args.schedule)
    print(f"pipeline {cfg.name}: id {submitted.pipeline_id}, version {submitted.version_id}")
    if submitted.recurring_run_id:
        print(f"recurring run {submitted.recurring_run_id}: {cfg.kubeflow.schedule.cron} "
              f"(max concurrency {cfg.kubeflow.schedule.max_concurrency})")
    else:
        print(f"run {submitted.run_id}")
    return EXIT_OK
