"""Two `mlops run` on one output root at once: one runs, the other refuses at once naming it; one version
is pushed and the run that ran reports its own run."""
import subprocess
import sys

from helpers import PROJECT, make_config, small_csv, summary_of, versions


def test_a_second_run_on_the_same_output_root_refuses_naming_the_first(tmp_path):
    csv_path = small_csv("taxi", tmp_path / "data", rows=600)
    config = make_config("taxi", tmp_path, csv_path.parent, model__train_steps=10, model__eval_steps=2,
                         evaluation__thresholds__0__lower_bound=0.0, infra_validation__platform="local_process")
    command = [sys.executable, "-m", "pipelines.cli", "run", str(config)]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT)
            for _ in range(2)]
    (out_a, err_a), (out_b, err_b) = (run.communicate(timeout=900) for run in runs)
    results = sorted([(runs[0].returncode, out_a, err_a), (runs[1].returncode, out_b, err_b)], key=lambda r: r[0])
    (ran_code, ran_out, _), (refused_code, _, refused_err) = results
    assert ran_code == 0 and refused_code == 1, results
    assert "is already running on" in refused_err and "Traceback" not in refused_err
    assert f"process {runs[0].pid if runs[0].returncode == 0 else runs[1].pid} " in refused_err
    assert len(versions(tmp_path / "out" / "serving_model")) == 1
    summary = summary_of(config)
    assert summary.outcome == "pushed" and f"run {summary.run_id}" in ran_out
