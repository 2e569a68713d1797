"""Runs, lineage and the model registry, read back from ML Metadata after the shared taxi history
(conftest.py): 1.0.0 is the first push; the same model pushed again after an infra validation change
is 1.0.1; a new required input (and a schema change) retrains on a new serving contract: 2.0.0. Then a rollback to 1.0.0.
"""
import json

from helpers import mlops, reader_of, summary_of, versions


def cli(*args):
    result = mlops(*args)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    return result.stdout


def test_versions_follow_the_data_contract_the_model_and_the_pipeline(taxi, unservable_run):
    from pipelines.metadata import registry

    found = registry.model_versions(reader_of(taxi.config), with_metrics=False)
    assert [v.version for v in found] == ["1.0.0", "1.0.1", "2.0.0"]
    assert found[0].model_id == found[1].model_id != found[2].model_id  # 1.0.1: same model, pushed again
    assert found[0].contract == found[1].contract != found[2].contract

    printed = cli("models", taxi.config)
    assert "binary_accuracy" in printed and "infra-validated on local_process" in printed


def test_runs_lists_each_run_with_its_outcome(taxi, unservable_run, repush_run):
    printed = cli("runs", taxi.config)
    outcomes = [line.rsplit("  ", 1)[-1] for line in printed.splitlines()[3:]]
    assert outcomes == ["pushed", "cached", "not blessed", "cached", "pushed", "pushed", "not blessed"], printed

    detail = cli("runs", taxi.config, "--run", repush_run.run_id)
    states = dict(line.split()[:2] for line in detail.splitlines()[2:-1])
    assert states["Trainer"] == "cached" and states["InfraValidator"] == "complete" and states["Pusher"] == "complete"
    assert detail.splitlines()[-1].split() == ["outcome", "pushed"]


def test_lineage_returns_the_full_chain_with_the_right_artifact_ids(taxi, new_contract_run):
    graph = json.loads(cli("lineage", taxi.config, "--model", "2.0.0", "--format", "json"))
    nodes = {node["key"]: node for node in graph["nodes"]}
    summary = summary_of(taxi.config, new_contract_run.run_id)  # every component ran
    expected = {
        "CsvExampleGen": ["examples"], "ImportSchemaGen": ["schema"], "StatisticsGen": ["statistics"],
        "ExampleValidator": ["anomalies"], "Transform": ["transform_graph"],
        "Trainer": ["model"], "InfraValidator": ["blessing"], "Evaluator": ["blessing", "evaluation"],
        "Pusher": ["pushed_model"]}
    for node, keys in expected.items():
        for key in keys:
            assert f"a{summary.output(node, key).id}" in nodes, (node, key)
    pushed, model = summary.output("Pusher", "pushed_model"), summary.output("Trainer", "model")
    assert [f"a{model.id}", f"e{execution_id(nodes, 'Pusher')}"] in graph["edges"]
    assert nodes[f"a{pushed.id}"]["properties"]["pushed"] == 1
    # The ExampleGen that read the input (later runs that reused its examples from cache produced them too).
    example_gens = [n for n in nodes.values() if n["name"] == "CsvExampleGen"]
    assert all(n["properties"]["input_base"].endswith("data") for n in example_gens)
    [reader] = [n for n in example_gens if "input_fingerprint" in n["properties"]]
    assert reader["properties"]["input_fingerprint"].startswith("split:single_split,num_files:1")

    tree = cli("lineage", taxi.config, "--model", "1.0.0")
    assert tree.startswith("PushedModel") and "<- Trainer" in tree and "<- CsvExampleGen" in tree
    assert "Checks (on the examples, and against the model once served):" in tree
    assert "served_version=" in tree  # the next run's drift check, against 1.0.0 served
    dot = cli("lineage", taxi.config, "--format", "dot")
    assert dot.startswith("digraph lineage {") and "->" in dot


def execution_id(nodes, name):
    return next(int(key[1:]) for key, node in nodes.items() if node["kind"] == "execution" and node["name"] == name)


def test_from_data_reaches_every_pushed_model(taxi, unservable_run):
    from pipelines.metadata import registry

    printed = cli("lineage", taxi.config, "--from-data", str(taxi.csv_path))
    for version in registry.model_versions(reader_of(taxi.config), with_metrics=False):
        assert f"PushedModel {version.pushed_model_id} " in printed


def test_rollback_moves_the_stable_label_and_is_recorded(taxi, first_run, unservable_run, rollback):
    from pipelines.metadata import registry
    from pipelines.metadata.rollouts import rollout_executions

    assert rollback.returncode == 0, rollback.stdout + rollback.stderr[-3000:]
    assert rollback.stdout.startswith("stable=1.0.0")
    assert "no server answers" in rollback.stdout  # nothing serves here: `mlops serve` will start with it
    assert versions(taxi.serving_dir) == unservable_run.served  # no folder copied: a label moved

    reader = reader_of(taxi.config)
    first = rollout_executions(reader)[0]
    assert first.properties["action"].string_value == "rollback"
    assert json.loads(first.properties["labels"].string_value) == {"stable": int(first_run.served[0])}
    found = {v.version: v for v in registry.model_versions(reader, str(taxi.serving_dir), with_metrics=False)}
    assert found["1.0.0"].folder == int(first_run.served[0])
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    written = text_format.Parse((taxi.work / "out" / "models.config").read_text(),
                                model_server_config_pb2.ModelServerConfig())
    assert dict(written.model_config_list.config[0].version_labels) == {"stable": int(first_run.served[0])}
    # What the next run's drift check compares with: the version served, not the highest folder.
    from pipelines.shared import serving_layout

    assert serving_layout.served_version_dir(str(taxi.serving_dir)) == str(taxi.serving_dir / first_run.served[0])
    assert serving_layout.served_version_dir(str(taxi.serving_dir)) != str(taxi.serving_dir / unservable_run.served[-1])

    missing = mlops("rollback", taxi.config, "--to", "9.9.9")
    assert missing.returncode == 1 and "no pushed model version 9.9.9" in missing.stderr


def test_read_commands_answer_without_importing_tensorflow(taxi, unservable_run):
    """`mlops runs`, `lineage` and `models` read protos and files: no TensorFlow import (8 s)."""
    import subprocess
    import sys

    from helpers import PROJECT

    check = ("import sys; from pipelines.cli import main; "
             "code = main(sys.argv[1:]); "
             "assert 'tensorflow' not in sys.modules, sorted(m for m in sys.modules if m.startswith('tensorflow'))[:5]; "
             "sys.exit(code)")
    for command in (["runs"], ["runs", "--run", unservable_run.run_id], ["lineage"], ["models"]):
        result = subprocess.run([sys.executable, "-c", check, command[0], str(taxi.config), *command[1:]],
                                capture_output=True, text=True, timeout=120, cwd=PROJECT)
        assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-2000:])
