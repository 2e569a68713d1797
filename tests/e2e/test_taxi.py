"""The default pipeline end to end on a 3,000-row slice of the taxi data, through the real `mlops` CLI.

The tests share one output folder and run in order: first run, unchanged re-run, a run with an
impossible threshold, the same config through TFX's own CLI, then a model that cannot be served.
"""
import os
import re
import subprocess
import sys

from pathlib import Path

import psutil
import pytest

from helpers import PROJECT, make_config, mlops, predict_in_fresh_process, small_csv, store_of, summary_of, versions

ALL_NODES = ["CsvExampleGen", "ImportSchemaGen", "StatisticsGen", "ExampleValidator", "DataGate", "Transform",
             "Trainer", "InfraValidator", "latest_blessed_model_resolver", "Evaluator", "Pusher"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("taxi")


@pytest.fixture(scope="module")
def csv_path(work):
    return small_csv("taxi", work / "data", rows=3000)


@pytest.fixture(scope="module")
def config(work, csv_path):
    # A floor the small model reaches: this run is about the plumbing, not the model's quality.
    return make_config("taxi", work, csv_path.parent, model__train_steps=40, model__eval_steps=5,
                       evaluation__thresholds__0__lower_bound=0.5, infra_validation__platform="local_process")


@pytest.fixture(scope="module")
def first_run(config):
    return mlops("run", config)


def test_first_run_completes_blesses_and_pushes(first_run, config, work):
    assert first_run.returncode == 0, first_run.stdout + first_run.stderr[-3000:]
    summary = summary_of(config)
    assert [c.node for c in summary.components] == ALL_NODES
    assert all(c.state == "complete" for c in summary.components), [(c.node, c.state) for c in summary.components]
    assert summary.anomalies == []
    assert summary.blessed is True
    assert summary.infra_blessed is True and summary.infra_platform == "local_process"
    assert summary.metrics["overall"]["example_count"] > 500
    assert {"overall", "payment_type=Cash", "trip_start_hour=12"} <= set(summary.metrics)
    pushed = versions(work / "out" / "serving_model")
    assert len(pushed) == 1 and pushed[0].isdigit()  # TF Serving layout: <base>/<version>/
    assert summary.pushed_path == str(work / "out" / "serving_model" / pushed[0])

    printed = first_run.stdout
    for node in ALL_NODES:
        assert node in printed
    assert "Blessed: yes" in printed and f"Pushed: {summary.pushed_path}" in printed
    assert "Infra validation: passed on local_process" in printed and "not a TF Serving check" in printed
    assert "binary_accuracy" in printed and "trip_start_hour=12" in printed
    # TFX and TensorFlow logs go to the log file, not the terminal.
    assert re.search(r"absl|tensorflow[:/.]|WARNING|INFO:", printed) is None, printed
    logs = list((work / "out" / "logs").glob("run-*.log"))
    assert logs and "Component Trainer is finished" in logs[0].read_text()


def test_pushed_model_predicts_from_raw_examples_in_a_fresh_process(first_run, work, csv_path):
    model_dir = work / "out" / "serving_model" / versions(work / "out" / "serving_model")[0]
    assert (model_dir / "saved_model.pb").exists()
    predictions = predict_in_fresh_process(model_dir, csv_path, [""], drop=["tips"])
    assert len(predictions) == 20
    assert all(len(p) == 1 and 0.0 <= p[0] <= 1.0 for p in predictions)
    assert len({round(p[0], 6) for p in predictions}) > 1  # depends on the input


@pytest.fixture(scope="module")
def second_run(first_run, config):
    return mlops("run", config)


def test_unchanged_rerun_is_served_from_cache(second_run, config, work):
    assert second_run.returncode == 0, second_run.stdout + second_run.stderr[-3000:]
    summary = summary_of(config)
    states = {c.node: c.state for c in summary.components}
    assert states.pop("latest_blessed_model_resolver") == "complete"  # resolvers always resolve anew
    assert set(states.values()) == {"cached"}, states
    assert len(versions(work / "out" / "serving_model")) == 1  # nothing pushed again
    assert "cached" in second_run.stdout


@pytest.fixture(scope="module")
def impossible_run(second_run, config):
    return mlops("run", config, "--set", "evaluation.thresholds.0.lower_bound=1.01")


def test_impossible_threshold_is_not_blessed_and_pushes_nothing(impossible_run, config, work):
    assert impossible_run.returncode == 0, impossible_run.stdout + impossible_run.stderr[-3000:]
    printed = impossible_run.stdout
    assert "Blessed: NO" in printed
    assert "binary_accuracy" in printed and "needs >= 1.01" in printed
    assert "Pushed: nothing" in printed
    assert len(versions(work / "out" / "serving_model")) == 1

    # Only what the new threshold touches ran again; the pushed model artifact says "not pushed".
    from pipelines.config import load_config

    summary = summary_of(config)  # latest run (the --set run shares the store)
    states = {c.node: c.state for c in summary.components}
    assert states["Trainer"] == "cached" and states["Evaluator"] == "complete"
    assert summary.blessed is False and summary.pushed_path is None
    pushed_model = summary.component("Pusher").outputs["pushed_model"][0]
    assert pushed_model.custom_properties["pushed"].int_value == 0
    assert load_config(config).name == "taxi"


def test_tfx_cli_runs_the_same_pipeline_from_the_same_config(impossible_run, config, work):
    env = {**os.environ, "MLOPS_CONFIG": str(config), "LOCAL_HOME": str(work / "tfx_home"), "HOME": str(work),
           "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    runner = PROJECT / "pipelines" / "local_runner.py"
    for command in (["pipeline", "create", "--engine=local", f"--pipeline_path={runner}"],
                    ["run", "create", "--engine=local", "--pipeline_name=taxi"]):
        result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "tfx"), *command],
                                capture_output=True, text=True, timeout=900, cwd=work, env=env)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert (work / "tfx_home" / "taxi" / "pipeline_args.json").exists()
    # `run create` ran the pipeline: a new run in the same store, every component reused from the first run.
    from pipelines import summary as S

    runs = S.run_contexts(store_of(config), "taxi")
    assert len(runs) == 4
    states = {c.node: c.state for c in summary_of(config, runs[-1].name).components}
    assert states["Trainer"] == "cached" and states["Evaluator"] == "cached"


def model_servers_of(work):
    return [p for p in psutil.process_iter(["cmdline"])
            if any("local_model_server" in part for part in p.info["cmdline"] or [])
            and any(str(work) in part for part in p.info["cmdline"] or [])]


@pytest.fixture(scope="module")
def unservable_run(first_run, config, work):
    """The trained model's variables are corrupted on disk (a bad export or a bad disk); the Trainer
    stays cached, so the run re-validates the same, now broken, SavedModel."""
    from pipelines import summary as S

    first_run_id = S.run_contexts(store_of(config), "taxi")[0].name
    model = summary_of(config, first_run_id).component("Trainer").outputs["model"][0]
    variables = next((Path(model.uri) / "Format-Serving" / "variables").glob("variables.data-*"))
    variables.write_bytes(b"\0not variables" * 8)
    return mlops("run", config, "--set", "infra_validation.tries=1")


def test_an_unservable_model_is_not_infra_blessed_and_not_pushed(unservable_run, config, work):
    printed = unservable_run.stdout
    summary = summary_of(config)
    states = {c.node: c.state for c in summary.components}
    assert states["Trainer"] == "cached" and states["InfraValidator"] == "complete", states
    assert summary.infra_blessed is False and summary.infra_platform == "local_process"
    assert "failed to load" in summary.infra_reason and "LOAD FAILED" in summary.infra_reason
    assert "Infra validation: FAILED on local_process" in printed and summary.infra_reason in printed
    assert summary.pushed_path is None and "Pushed: nothing" in printed
    assert len(versions(work / "out" / "serving_model")) == 1  # still only the first run's model
    assert model_servers_of(work) == []
