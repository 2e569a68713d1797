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
