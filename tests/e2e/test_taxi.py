"""The default pipeline end to end on a 3,000-row slice of the taxi data, through the real `mlops` CLI
and TFX's own: first run, unchanged re-run, an impossible threshold, the `tfx` CLI, a model that cannot
be served (the runs are the shared taxi history of conftest.py)."""
import os
import re

import psutil
import pytest

from helpers import predict_in_fresh_process, reader_of, summary_of

ALL_NODES = ["CsvExampleGen", "ImportSchemaGen", "latest_pushed_model_resolver", "StatisticsGen", "DriftCheck",
             "ExampleValidator", "DataGate", "Transform", "ReferenceModel", "Trainer", "FeatureImportance", "InfraValidator",
             "latest_blessed_model_resolver", "Evaluator", "Pusher"]


def states_of(taxi, step) -> dict:
    return {c.node: c.state for c in summary_of(taxi.config, step.run_id).components}


def test_first_run_completes_blesses_and_pushes(taxi, first_run):
    assert first_run.result.returncode == 0, first_run.result.stdout + first_run.result.stderr[-3000:]
    # Nothing after the summary either: no library's error at exit (TensorFlow's __del__ of a model Beam kept).
    assert "Traceback" not in first_run.result.stderr and "Exception ignored" not in first_run.result.stderr
    summary = summary_of(taxi.config, first_run.run_id)
    # In the order they started: independent components run side by side (runner.parallel_components), so
    # only what depends on what fixes the order.
    order = [c.node for c in summary.components]
    assert sorted(order) == sorted(ALL_NODES)
    for before, after in [("CsvExampleGen", "StatisticsGen"), ("DataGate", "Transform"), ("Transform", "Trainer"),
                          ("Trainer", "Evaluator"), ("Trainer", "InfraValidator"), ("Trainer", "FeatureImportance")]:
        assert order.index(before) < order.index(after), order
    assert order[-1] == "Pusher"
    assert all(c.state == "complete" for c in summary.components), [(c.node, c.state) for c in summary.components]
    assert summary.anomalies == []
    assert summary.blessed is True and summary.outcome == "pushed"
    assert summary.infra_blessed is True and summary.infra_platform == "local_process"
    assert summary.metrics["overall"]["example_count"] > 500
    assert {"overall", "payment_type=Cash", "trip_start_hour=12"} <= set(summary.metrics)
    assert len(first_run.served) == 1 and first_run.served[0].isdigit()  # TF Serving layout: <base>/<version>/
    assert summary.pushed_path == str(taxi.serving_dir / first_run.served[0])

    printed = first_run.result.stdout
    for node in ALL_NODES:
        assert node in printed
    assert "Blessed: yes" in printed and f"Pushed: {summary.pushed_path}" in printed
    assert "Infra validation: passed on local_process" in printed and "not a TF Serving check" in printed
    assert "binary_accuracy" in printed and "trip_start_hour=12" in printed
    # TFX and TensorFlow logs go to the log file, not the terminal.
    assert re.search(r"absl|tensorflow[:/.]|WARNING|INFO:", printed) is None, printed
    logs = sorted((taxi.work / "out" / "logs").glob("run-*.log"))
    assert logs and "Component Trainer is finished" in logs[0].read_text()


def test_the_reference_model_is_trained_on_the_same_rows_and_shown_beside_the_model_and_the_trivial_one(
        taxi, first_run):
    summary = summary_of(taxi.config, first_run.run_id)
    reference = summary.reference
    # Gradient-boosted trees on the raw columns rank the taxi data well (the network of this short run less so).
    assert reference["reference"]["auc"] > 0.85 and reference["trivial"]["auc"] == 0.5
    assert reference["rows"]["eval"] == summary.metrics["overall"]["example_count"]  # the Evaluator's rows
    # Recorded in ML Metadata with lineage: read from this run's examples, scores as properties.
    reader = reader_of(taxi.config)
    execution = next(e for e in reader.run_executions(first_run.run_id) if reader.node_name(e) == "ReferenceModel")
    (examples,) = reader.inputs_of(execution.id)["examples"]
    assert examples.id == summary.output("CsvExampleGen", "examples").id
    (artifact,) = reader.outputs_of(execution.id)["reference"]
    assert reader.artifact_type(artifact) == "mlops.ReferenceModel"
    assert artifact.custom_properties["auc"].double_value == pytest.approx(reference["reference"]["auc"], abs=1e-6)
    printed = first_run.result.stdout
    assert "Against a reference (eval split" in printed
    assert re.search(r"^  reference \(gradient-boosted trees\) +0\.\d+ ", printed, re.M), printed
    assert re.search(r"^  trivial \(commonest class\) +0\.5 ", printed, re.M), printed
    assert "of the reference's skill" in printed


def test_pushed_model_predicts_from_raw_examples_in_a_fresh_process(taxi, first_run):
    model_dir = taxi.serving_dir / first_run.served[0]
    assert (model_dir / "saved_model.pb").exists()
    served = predict_in_fresh_process(model_dir, taxi.csv_path, [""], drop=["tips"], signature="explain")
    predictions = predict_in_fresh_process(model_dir, taxi.csv_path, [""], drop=["tips"])["outputs"]
    assert len(predictions) == 20
    assert all(len(p) == 1 and 0.0 <= p[0] <= 1.0 for p in predictions)
    # The explain signature answers the same raw examples: the probability it explains is the prediction.
    assert [round(p, 5) for p in served["output"]] == [round(p[0], 5) for p in predictions]
    assert len(served["attributions"]) == 20 and len(served["attributions"][0]) == len(served["feature_names"][0]) == 14
    assert len({round(p[0], 6) for p in predictions}) > 1  # depends on the input


def test_unchanged_rerun_is_served_from_cache(taxi, first_run, unchanged_run):
    assert unchanged_run.result.returncode == 0, unchanged_run.result.stdout + unchanged_run.result.stderr[-3000:]
    states = states_of(taxi, unchanged_run)
    for resolver in ("latest_blessed_model_resolver", "latest_pushed_model_resolver"):
        assert states.pop(resolver) == "complete"  # resolvers always resolve anew
    # The first run's push changed what is served: the drift check, and the gate reading it, ran again.
    assert states.pop("DriftCheck") == "complete" and states.pop("DataGate") == "complete"
    assert set(states.values()) == {"cached"}, states
    assert unchanged_run.served == first_run.served  # nothing pushed again
    assert "cached" in unchanged_run.result.stdout


def test_nothing_changed_is_answered_from_ml_metadata_without_running_or_importing_tensorflow(
        taxi, unchanged_run, nothing_changed_run):
    result = nothing_changed_run.result
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert f"unchanged since run {unchanged_run.run_id}" in result.stdout and "nothing to run" in result.stdout
    assert "tensorflow not imported" in result.stdout
    assert nothing_changed_run.run_id == unchanged_run.run_id  # no new run in ML Metadata
    assert nothing_changed_run.served == unchanged_run.served
    assert re.search(r"^Report: \S+\.html$", result.stdout, re.M)


def test_impossible_threshold_is_not_blessed_and_pushes_nothing(taxi, first_run, impossible_run):
    result = impossible_run.result
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    printed = result.stdout
    assert "Blessed: NO" in printed
    assert "binary_accuracy" in printed and "needs >= 1.01" in printed
    assert "Pushed: nothing" in printed
    assert impossible_run.served == first_run.served

    # Only what the new threshold touches ran again; the pushed model artifact says "not pushed".
    summary = summary_of(taxi.config, impossible_run.run_id)
    states = {c.node: c.state for c in summary.components}
    assert states["Trainer"] == "cached" and states["Evaluator"] == "complete"
    assert summary.blessed is False and summary.pushed_path is None and summary.outcome == "not blessed"
    assert summary.output("Pusher", "pushed_model").custom_properties["pushed"].int_value == 0


def test_tfx_cli_runs_the_same_pipeline_from_the_same_config(taxi, impossible_run, tfx_cli_run):
    result = tfx_cli_run.result
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert (taxi.work / "tfx_home" / "taxi" / "pipeline_args.json").exists()
    # `run create` ran the pipeline: a new run in the same store, every component reused from the first run.
    run_ids = [run.name for run in reader_of(taxi.config).run_contexts()]
    assert run_ids.index(tfx_cli_run.run_id) == run_ids.index(impossible_run.run_id) + 1
    states = states_of(taxi, tfx_cli_run)
    assert states["Trainer"] == "cached" and states["Evaluator"] == "cached"
    # What `mlops run` prints, from the same code: progress, the summary of this run, the report, the log.
    printed = result.stdout
    assert f"Pipeline taxi, run {tfx_cli_run.run_id}" in printed and "Blessed: yes" in printed, printed[-3000:]
    report = re.search(r"^Report: (\S+\.html)$", printed, re.M)
    assert report and os.path.isfile(report.group(1)) and tfx_cli_run.run_id in open(report.group(1)).read()
    log = re.search(r"logs: (\S+\.log)", printed)
    assert log and "MetadataStore with DB connection initialized" in open(log.group(1)).read()
    assert "INFO" not in printed and "WARNING" not in printed  # library output is in the log


def model_servers_of(work):
    return [p for p in psutil.process_iter(["cmdline"])
            if any("model_server/stand_in.py" in part for part in p.info["cmdline"] or [])
            and any(str(work) in part for part in p.info["cmdline"] or [])]


def test_an_unservable_model_is_not_infra_blessed_and_not_pushed(taxi, new_contract_run, unservable_run):
    printed = unservable_run.result.stdout
    summary = summary_of(taxi.config, unservable_run.run_id)
    states = {c.node: c.state for c in summary.components}
    assert states["Trainer"] == "cached" and states["InfraValidator"] == "complete", states
    assert summary.infra_blessed is False and summary.infra_platform == "local_process"
    assert "failed to load" in summary.infra_reason and "LOAD FAILED" in summary.infra_reason
    assert "Infra validation: FAILED on local_process" in printed and summary.infra_reason in printed
    assert summary.pushed_path is None and "Pushed: nothing" in printed
    assert unservable_run.served == new_contract_run.served
    assert model_servers_of(taxi.work) == []
