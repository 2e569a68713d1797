"""Entry point for TFX's own CLI, local engine:

    tfx pipeline create --engine=local --pipeline_path=$PWD/pipelines/local_runner.py
    tfx run create --engine=local --pipeline_name=taxi

The config comes from $MLOPS_CONFIG (default: configs/taxi.yaml of this project); set it the same way for
`pipeline create` and `run create`. `pipeline create` executes this file inside the CLI with
LocalDagRunner.run patched to record the pipeline; `run create` runs it as a script, and then it does
exactly what `mlops run` does: the run, its log under <output_root>/logs/, the summary and the report.
"""
import sys

from pipelines.cli import app, errors
from pipelines.config import ConfigError, load_config_from_environment


def recording_for_tfx_cli() -> bool:
    """Whether the tfx CLI is recording the pipeline (`pipeline create`), not running it: it has imported
    LocalDagRunner already and patched its run() (functools.wraps leaves __wrapped__)."""
    runner = sys.modules.get("tfx.orchestration.local.local_dag_runner")
    return runner is not None and hasattr(runner.LocalDagRunner.run, "__wrapped__")


def main() -> int:
    try:
        cfg = load_config_from_environment()
    except ConfigError as e:
        return errors.explain(e, {})
    if recording_for_tfx_cli():
        from pipelines.metadata import store
        from pipelines.runners import local
        from pipelines.shared import console

        console.mask_secrets(store.secrets(cfg))  # LocalDagRunner logs its whole connection config, password included
        local.run(local.local_pipeline(local.with_run_state(cfg)), cfg.runner.parallel_components)
        return errors.EXIT_OK
    command = next(c for c in app.COMMANDS if c.name == "run")
    try:
        return command.run(None, cfg)
    except Exception as e:  # noqa: BLE001 - the same one-line errors as `mlops run`
        return errors.explain(e, command.expected)


exit_code = main()
if recording_for_tfx_cli():
    sys.exit(exit_code)  # inside the tfx CLI, which goes on to save the pipeline
app.exit_without_teardown(exit_code)
