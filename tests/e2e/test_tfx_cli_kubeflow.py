"""TFX's own CLI compiles the Kubeflow V2 pipeline from the same config (`--engine=vertex`)."""
import json
import os
import subprocess
import sys

from helpers import PROJECT


def tfx(*args, env):
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "tfx"), *args],
                          capture_output=True, text=True, timeout=600, cwd=PROJECT, env=env)


def test_tfx_pipeline_compile_and_create_with_the_vertex_engine(tmp_path):
    runner = PROJECT / "pipelines" / "kubeflow_runner.py"
    env = {**os.environ, "MLOPS_CONFIG": str(PROJECT / "configs" / "taxi.yaml"), "HOME": str(tmp_path),
           "MLOPS_KUBEFLOW_OUTPUT": str(tmp_path / "compiled" / "pipeline.json"),
           "VERTEX_HOME": str(tmp_path / "vertex"), "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}

    compiled = tfx("pipeline", "compile", "--engine=vertex", f"--pipeline_path={runner}", env=env)
    assert compiled.returncode == 0, compiled.stdout[-2000:] + compiled.stderr[-3000:]
    assert "Pipeline taxi compiled successfully" in compiled.stdout
    job = json.loads((tmp_path / "compiled" / "pipeline.json").read_text())
    assert job["pipelineSpec"]["schemaVersion"] == "2.1.0"
    assert "InfraValidator" in job["pipelineSpec"]["root"]["dag"]["tasks"]

    created = tfx("pipeline", "create", "--engine=vertex", f"--pipeline_path={runner}", env=env)
    assert created.returncode == 0, created.stdout[-2000:] + created.stderr[-3000:]
    stored = json.loads((tmp_path / "vertex" / "taxi" / "pipeline.json").read_text())
    assert stored["pipelineSpec"]["pipelineInfo"]["name"] == "taxi"
