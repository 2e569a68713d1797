"""Entry point for TFX's own CLI, local engine:

    tfx pipeline create --engine=local --pipeline_path=$PWD/pipelines/local_runner.py
    tfx run create --engine=local --pipeline_name=taxi

The config comes from $MLOPS_CONFIG (default: configs/taxi.yaml of this project); set it the
same way for `pipeline create` and `run create`. The CLI runs this file as a script, patching
LocalDagRunner.run at create time, so `run()` is called exactly once, at the bottom.
"""
import sys

from pipelines.config import ConfigError, load_config_from_environment
from pipelines.metadata import store
from pipelines.runners import local
from pipelines.shared import console

try:
    cfg = load_config_from_environment()
except ConfigError as e:
    sys.exit(f"error: {e}")
console.mask_secrets(store.secrets(cfg))  # LocalDagRunner logs its whole connection config, password included
try:
    with local.own_run(cfg):  # recovers what killed runs left; refuses while another process runs the pipeline
        local.run(local.local_pipeline(cfg))
except local.PipelineBusy as e:
    sys.exit(f"error: {e}")
