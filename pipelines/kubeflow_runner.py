"""Entry point for TFX's own CLI with the Kubeflow V2 compiler:

    tfx pipeline compile --engine=vertex --pipeline_path=$PWD/pipelines/kubeflow_runner.py
    tfx pipeline create  --engine=vertex --pipeline_path=$PWD/pipelines/kubeflow_runner.py

`--engine=kubeflow` is broken in TFX 1.16 (it imports a module 1.16 deleted), and `--engine=auto`
picks it whenever kfp is installed. The config comes from $MLOPS_CONFIG (default: configs/taxi.yaml);
`compile` writes $MLOPS_KUBEFLOW_OUTPUT (default: <output_root>/kubeflow/pipeline.json), `create`
writes where the CLI says ($VERTEX_HOME/<name>/pipeline.json). For KFP 2.x servers use `mlops compile`
(YAML) and `mlops submit`.
"""
import os
import sys

from pipelines.config import ConfigError, load_config_from_environment
from pipelines.runners import kubeflow

OUTPUT_ENV = "MLOPS_KUBEFLOW_OUTPUT"

try:
    cfg = load_config_from_environment()
    output = os.environ.get(OUTPUT_ENV) or os.path.join(cfg.output_dir, "kubeflow", "pipeline.json")
    kubeflow.dag_runner(cfg, output).run(kubeflow.kubeflow_pipeline(cfg))
except ConfigError as e:
    sys.exit(f"error: {e}")
