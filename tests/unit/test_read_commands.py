"""Read-only commands never create a store: a mistyped config gets a clear error, not an empty store."""
import subprocess
import sys


def test_read_commands_on_a_config_that_never_ran_create_nothing(project, tmp_path):
    for command in ("runs", "models", "lineage"):
        result = subprocess.run([sys.executable, "-m", "pipelines.cli", command, str(project / "configs" / "taxi.yaml"),
                                 "--set", f"output_root={tmp_path / 'typo'}"],
                                capture_output=True, text=True, timeout=120, cwd=project)
        assert result.returncode == 1, result.stderr
        assert f"ML Metadata at {tmp_path / 'typo' / 'metadata.sqlite'}: no store there" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "typo").exists()


def test_secrets_are_masked_in_what_absl_and_tfx_log_on_the_tfx_cli_path():
    """pipelines/local_runner.py keeps the process's logging (the `tfx` CLI runs it) and masks on its handlers."""
    code = ("from pipelines.shared import console; console.mask_secrets(['s3cret-pw']); "
            "from absl import logging as absl_logging; import logging; absl_logging.set_verbosity(absl_logging.INFO); "
            "absl_logging.info('connection config: mysql { password: \"%s\" }', 's3cret-pw'); "
            "logging.getLogger('tfx.orchestration').warning('again s3cret-pw')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "s3cret-pw" not in result.stdout + result.stderr
    assert 'password: "***"' in result.stderr and "again ***" in result.stderr


def test_run_with_an_output_root_that_cannot_be_made_is_a_message_not_a_traceback(project, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    store_elsewhere = f"metadata.sqlite_path={tmp_path / 'm.sqlite'}"
    for extra, said in (([], f"cannot create {blocker / 'out'}"), (["--set", store_elsewhere], "cannot write under output_root")):
        result = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", str(project / "configs" / "taxi.yaml"),
                                 "--set", f"output_root={blocker / 'out'}", *extra],
                                capture_output=True, text=True, timeout=120, cwd=project)
        assert result.returncode == 1, result.stderr
        assert said in result.stderr and "Traceback" not in result.stderr, result.stderr
