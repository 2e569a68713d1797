"""Runs, lineage and the model registry, read back from ML Metadata after real runs.

Three runs of a small taxi pipeline share one store: the first pushes 1.0.0; the second changes
only the pipeline around the model (infra validation), so the same model is pushed again as 1.0.1;
the third changes the schema, so the model is retrained on a new data contract: 2.0.0. Then a
rollback to 1.0.0.
"""
import json

import pytest

from helpers import PROJECT, make_config, mlops, small_csv, store_of, summary_of, versions


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("registry")


@pytest.fixture(scope="module")
def csv_path(work):
    return small_csv("taxi", work / "data", rows=2000)


@pytest.fixture(scope="module")
def schema(work):
    path = work / "schema.pbtxt"
    path.write_text((PROJECT / "schemas" / "taxi" / "schema.pbtxt").read_text())
    return path


@pytest.fixture(scope="module")
def config(work, csv_path, schema):
    config = make_config("taxi", work, csv_path.parent, model__train_steps=30, model__eval_steps=5,
                         evaluation__thresholds__0__lower_bound=0.5, evaluation__thresholds__0__change=None,
                         infra_validation__platform="local_process",
                         infra_validation__tries=1)
    text = config.read_text().replace(str(PROJECT / "schemas" / "taxi" / "schema.pbtxt"), str(schema))
    config.write_text(text)
    return config


@pytest.fixture(scope="module")
def three_runs(config, schema):
    results = [mlops("run", config)]
    results.append(mlops("run", config, "--set", "infra_validation.num_examples=5"))
    # A schema change that keeps the data valid: fare's allowed range is wider.
    schema.write_text(schema.read_text().replace("max: 10000.0", "max: 20000.0", 1))
    results.append(mlops("run", config, "--set", "infra_validation.num_examples=5"))
    for result in results:
        assert result.returncode == 0, result.stdout + result.stderr[-3000:]
        assert "Pushed: " in result.stdout and "Pushed: nothing" not in result.stdout, result.stdout
    return results


def cli(*args):
    result = mlops(*args)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    return result.stdout


def test_versions_follow_the_data_contract_the_model_and_the_pipeline(three_runs, config):
    from pipelines import registry

    found = registry.model_versions(store_of(config), "taxi", with_metrics=False)
    assert [v.version for v in found] == ["1.0.0", "1.0.1", "2.0.0"]
    assert found[0].model_id == found[1].model_id != found[2].model_id  # 1.0.1: same model, pushed again
    assert found[0].contract == found[1].contract != found[2].contract

    printed = cli("models", config)
    assert "* 2.0.0" in printed and "binary_accuracy" in printed and "infra-validated on local_process" in printed


def test_runs_lists_each_run_with_its_outcome(three_runs, config):
    printed = cli("runs", config)
    assert printed.count(" pushed") == 3
    from pipelines import summary

    run_id = summary.run_contexts(store_of(config), "taxi")[1].name
    detail = cli("runs", config, "--run", run_id)
    assert "Trainer" in detail and "cached" in detail and "InfraValidator" in detail and "complete" in detail


def test_lineage_returns_the_full_chain_with_the_right_artifact_ids(three_runs, config):
    graph = json.loads(cli("lineage", config, "--model", "latest", "--format", "json"))
    nodes = {node["key"]: node for node in graph["nodes"]}
    summary = summary_of(config)  # the latest run: every component ran
    expected = {
        "CsvExampleGen": ["examples"], "ImportSchemaGen": ["schema"], "StatisticsGen": ["statistics"],
        "ExampleValidator": ["anomalies"], "Transform": ["transformed_examples", "transform_graph"],
        "Trainer": ["model"], "InfraValidator": ["blessing"], "Evaluator": ["blessing", "evaluation"],
        "Pusher": ["pushed_model"]}
    for node, keys in expected.items():
        for key in keys:
            artifact = summary.component(node).outputs[key][0]
            assert f"a{artifact.id}" in nodes, (node, key)
    pushed = summary.component("Pusher").outputs["pushed_model"][0]
    model = summary.component("Trainer").outputs["model"][0]
    assert [f"a{model.id}", f"e{summary_execution_id(nodes, 'Pusher')}"] in graph["edges"]
    assert nodes[f"a{pushed.id}"]["properties"]["pushed"] == 1
    example_gen = next(n for n in nodes.values() if n["name"] == "CsvExampleGen")
    assert example_gen["properties"]["input_base"].endswith("data")
    assert example_gen["properties"]["input_fingerprint"].startswith("split:single_split,num_files:1")

    tree = cli("lineage", config, "--model", "1.0.0")
    assert tree.startswith("PushedModel") and "<- Trainer" in tree and "<- CsvExampleGen" in tree
    assert "Checks on the examples:" in tree
    dot = cli("lineage", config, "--format", "dot")
    assert dot.startswith("digraph lineage {") and "->" in dot


def summary_execution_id(nodes, name):
    return next(int(key[1:]) for key, node in nodes.items() if node["kind"] == "execution" and node["name"] == name)


def test_from_data_reaches_every_pushed_model(three_runs, config, csv_path):
    printed = cli("lineage", config, "--from-data", str(csv_path))
    from pipelines import registry

    for version in registry.model_versions(store_of(config), "taxi", with_metrics=False):
        assert f"PushedModel {version.pushed_model_id} " in printed


def test_rollback_serves_the_earlier_version_and_is_recorded(three_runs, config, work):
    from pipelines import registry

    serving = work / "out" / "serving_model"
    before = versions(serving)
    printed = cli("rollback", config, "--to", "1.0.0")
    after = versions(serving)
    assert len(after) == len(before) + 1 and after[-1] > before[-1]  # a new, highest version folder
    assert "Serving version 1.0.0 again" in printed
    first = registry.model_versions(store_of(config), "taxi", str(serving), with_metrics=False)[0]
    assert (serving / after[-1] / "saved_model.pb").read_bytes() == (
        serving / first.serving_path.rsplit("/", 1)[-1] / "saved_model.pb").read_bytes()
    assert not (serving / ".staging").exists()

    listed = cli("models", config)
    assert "* 1.0.0" in listed and "rollback to 1.0.0" in listed
    store = store_of(config)
    rollbacks = store.get_executions_by_type("mlops.Rollback")
    assert len(rollbacks) == 1 and rollbacks[0].properties["to_version"].string_value == "1.0.0"

    missing = mlops("rollback", config, "--to", "9.9.9")
    assert missing.returncode == 1 and "no pushed model version 9.9.9" in missing.stderr
