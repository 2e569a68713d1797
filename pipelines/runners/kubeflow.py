"""Kubeflow Pipelines 2.x: compile with TFX's KubeflowV2DagRunner, submit and schedule with the kfp SDK.

OSS KFP 2.x backends accept pipeline spec schema 2.1.0 as YAML only (TFX 1.16's default is 2.0.0
in a JSON PipelineJob, which Vertex AI takes). ML Metadata is the cluster's: no connection config.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import Optional

from pipelines.config import ConfigError, PipelineConfig
from pipelines.shared import component_ids
from pipelines.shared.errors import MlopsError

TARGETS = ("kubeflow", "vertex")


def dag_runner(cfg: PipelineConfig, output_path: str):
    """A KubeflowV2DagRunner writing `output_path`: .yaml = KFP PipelineSpec, .json = Vertex PipelineJob."""
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as v2

    return v2.KubeflowV2DagRunner(
        config=v2.KubeflowV2DagRunnerConfig(default_image=cfg.require_kubeflow().image, use_pipeline_spec_2_1=True),
        output_dir=os.path.dirname(os.path.abspath(output_path)),
        output_filename=os.path.basename(output_path))


def kubeflow_pipeline(cfg: PipelineConfig):
    from pipelines.assembly import create_pipeline

    kubeflow = cfg.require_kubeflow()
    beam_args = {node: kubeflow.beam_args_for(node) for node in component_ids.WITH_BEAM}
    if cfg.privacy.pseudonymize:  # the pods must be given the same key (README, Privacy)
        cfg = cfg.with_privacy_state(cfg.pseudonym_key().key_id, forgotten=[])
    return create_pipeline(cfg, beam_args=beam_args, target="kubeflow")


def compile_pipeline(cfg: PipelineConfig, output_path: str, target: str = "kubeflow") -> str:
    cfg.require_kubeflow()
    suffix = (".yaml", ".yml") if target == "kubeflow" else (".json",)
    if not output_path.endswith(suffix):
        raise ValueError(f"--target {target} writes {' or '.join(suffix)}, not {output_path}")
    dag_runner(cfg, output_path).run(kubeflow_pipeline(cfg))
    finish_spec(output_path, cfg, target)
    return output_path


def finish_spec(path: str, cfg: PipelineConfig, target: str) -> None:
    """What TFX's compiler leaves out, added to the written file:
    - `defaultPipelineRoot` (YAML): TFX puts the root in the PipelineJob's runtime config, which a YAML
      PipelineSpec does not carry; KFP would use its own MinIO otherwise;
    - each task's `retryPolicy`, from runner.retries (TFX emits none)."""
    import json

    import yaml

    with open(path) as f:
        text = f.read()
    if target == "kubeflow":
        comments = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
        spec = yaml.safe_load(text)
        spec["defaultPipelineRoot"] = cfg.require_kubeflow().pipeline_root
        add_retry_policies(spec, cfg.runner.retries)
        with open(path, "w") as f:
            f.write(comments)
            yaml.safe_dump(spec, f, sort_keys=True)
    else:
        job = json.loads(text)
        add_retry_policies(job["pipelineSpec"], cfg.runner.retries)
        with open(path, "w") as f:
            json.dump(job, f, indent=2, sort_keys=True)


def add_retry_policies(spec: dict, retries) -> None:
    """A task is named after its component id (the resolver's tasks take the default)."""
    for name, task in spec["root"]["dag"]["tasks"].items():
        count = retries.for_component(name)
        if count:
            task["retryPolicy"] = {"maxRetryCount": count, "backoffDuration": f"{retries.backoff_seconds:g}s",
                                   "backoffFactor": 2.0, "backoffMaxDuration": "3600s"}


# --- submit ------------------------------------------------------------------


@dataclass
class Submitted:
    pipeline_id: str
    version_id: str
    run_id: Optional[str] = None
    recurring_run_id: Optional[str] = None


class SubmitError(MlopsError, RuntimeError):
    """The KFP server refused or could not be reached; the message is safe to print (no token)."""


def client(cfg: PipelineConfig):
    import kfp

    kubeflow = cfg.require_kubeflow()
    if not kubeflow.endpoint:
        raise ConfigError(f"{cfg.source}: kubeflow.endpoint: needed to submit (e.g. https://kfp.example.com)")
    token = None
    if kubeflow.token_env:
        token = os.environ.get(kubeflow.token_env)
        if not token:
            raise ConfigError(f"{cfg.source}: kubeflow.token_env: the environment variable {kubeflow.token_env} is not set")
    return kfp.Client(host=kubeflow.endpoint, existing_token=token)


def submit(cfg: PipelineConfig, package_path: str, schedule: bool = False) -> Submitted:
    """Uploads the package as the pipeline (or a new version of it), then starts a run or a recurring run."""
    kubeflow = cfg.require_kubeflow()
    plan = kubeflow.schedule
    if schedule and plan is None:
        raise ConfigError(f"{cfg.source}: kubeflow.schedule: --schedule needs a schedule (cron, max_concurrency)")
    if not os.path.isfile(package_path):
        raise ConfigError(f"--package {package_path}: no such file (compile one with `mlops compile`)")
    version_name = f"{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        kfp_client = client(cfg)  # asks the server's healthz already
        pipeline_id = kfp_client.get_pipeline_id(cfg.name)
        if pipeline_id is None:
            pipeline = kfp_client.upload_pipeline(package_path, pipeline_name=cfg.name)
            pipeline_id = pipeline.pipeline_id
            version_id = kfp_client.list_pipeline_versions(pipeline_id).pipeline_versions[0].pipeline_version_id
        else:
            version = kfp_client.upload_pipeline_version(package_path, pipeline_version_name=version_name,
                                                         pipeline_id=pipeline_id)
            version_id = version.pipeline_version_id
        experiment_id = kfp_client.create_experiment(kubeflow.experiment).experiment_id
        submitted = Submitted(pipeline_id, version_id)
        if schedule and plan is not None:
            recurring = kfp_client.create_recurring_run(
                experiment_id, job_name=f"{cfg.name} ({plan.cron})", cron_expression=plan.cron,
                max_concurrency=plan.max_concurrency, no_catchup=not plan.catchup,
                pipeline_id=pipeline_id, version_id=version_id, enabled=True,
                pipeline_root=kubeflow.pipeline_root)
            submitted.recurring_run_id = recurring.recurring_run_id
        else:
            run = kfp_client.run_pipeline(experiment_id, job_name=version_name, pipeline_id=pipeline_id,
                                          version_id=version_id, pipeline_root=kubeflow.pipeline_root)
            submitted.run_id = run.run_id
        return submitted
    except ConfigError:
        raise
    except Exception as error:  # kfp_server_api.ApiException and connection errors
        raise SubmitError(server_error_text(error, kubeflow.endpoint or "")) from None


def server_error_text(error: Exception, endpoint: str) -> str:
    status, reason, body = (getattr(error, name, None) for name in ("status", "reason", "body"))
    if status:
        detail = body.decode() if isinstance(body, bytes) else (body or "")
        return f"KFP server {endpoint} answered {status} {reason or ''}: {detail.strip()[:500]}".rstrip(": ")
    errno = re.search(r"\[Errno -?\d+\] [^'\")]+", str(error))  # urllib3 wraps the socket error twice
    return f"cannot reach the KFP server {endpoint}: {errno.group(0) if errno else str(error)[:300]}"
