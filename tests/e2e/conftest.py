"""Every test under e2e/ runs whole pipelines: marked e2e (deselect with -m "not e2e").

The taxi history below is shared by test_taxi.py and test_registry.py: one small taxi pipeline run
several times against one store, each step a session-scoped fixture that runs once, when a test
first needs it, after the steps before it. Each step keeps its run id and what the serving folder
held right after it, so tests read the run they are about whatever ran later.
"""
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from helpers import PROJECT, make_config, mlops, reader_of, small_csv, versions


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@dataclass
class Step:
    result: CompletedProcess
    run_id: str
    served: list[str]  # the serving folder's version folders right after the step


@dataclass
class TaxiHistory:
    work: Path
    config: Path
    csv_path: Path
    schema: Path

    @property
    def serving_dir(self) -> Path:
        return self.work / "out" / "serving_model"

    def step(self, *args) -> Step:
        """`mlops run` of the history's config, with extra arguments (e.g. --set ...)."""
        result = mlops("run", self.config, *args)
        return Step(result, reader_of(self.config).latest_run_id(), versions(self.serving_dir))


@pytest.fixture(scope="session")
def taxi(tmp_path_factory) -> TaxiHistory:
    work = tmp_path_factory.mktemp("taxi")
    csv_path = small_csv("taxi", work / "data", rows=3000)
    schema = work / "schema.pbtxt"  # a copy: one step edits it
    schema.write_text((PROJECT / "schemas" / "taxi" / "schema.pbtxt").read_text())
    # A floor the small model reaches, and a change threshold any model meets: these runs are about the
    # plumbing (caching, blessing, versions, lineage), not the model's quality.
    config = make_config("taxi", work, csv_path.parent, model__train_steps=40, model__eval_steps=5,
                         evaluation__thresholds__0__lower_bound=0.5,
                         evaluation__thresholds__0__change={"direction": "higher_is_better", "absolute": -1.0},
                         infra_validation__platform="local_process", schema_file=str(schema))
    return TaxiHistory(work, config, csv_path, schema)


@pytest.fixture(scope="session")
def first_run(taxi) -> Step:
    """Everything runs; the model is pushed: version 1.0.0."""
    return taxi.step()


@pytest.fixture(scope="session")
def unchanged_run(taxi, first_run) -> Step:
    """The same config again: every component from cache, nothing pushed."""
    return taxi.step()


@pytest.fixture(scope="session")
def nothing_changed_run(taxi, unchanged_run) -> Step:
    """Nothing changed since the previous run, which completed (the first run's push changed what it read):
    answered without running, in a process that says whether it imported TensorFlow."""
    import subprocess
    import sys

    code = ("import sys; from pipelines.cli import main; rc = main(['run', sys.argv[1]]); "
            "print('tensorflow imported' if 'tensorflow' in sys.modules else 'tensorflow not imported'); sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code, str(taxi.config)], capture_output=True, text=True,
                            cwd=PROJECT, timeout=600)
    return Step(result, reader_of(taxi.config).latest_run_id(), versions(taxi.serving_dir))


@pytest.fixture(scope="session")
def impossible_run(taxi, nothing_changed_run) -> Step:
    """A threshold no model meets: only the Evaluator and the Pusher run again; nothing pushed."""
    return taxi.step("--set", "evaluation.thresholds.0.lower_bound=1.01")


@pytest.fixture(scope="session")
def tfx_cli_run(taxi, impossible_run) -> Step:
    """The same config through TFX's own CLI (local engine): a new run, every component from cache."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "MLOPS_CONFIG": str(taxi.config), "LOCAL_HOME": str(taxi.work / "tfx_home"),
           "HOME": str(taxi.work), "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    runner = PROJECT / "pipelines" / "local_runner.py"
    for command in (["pipeline", "create", "--engine=local", f"--pipeline_path={runner}"],
                    ["run", "create", "--engine=local", "--pipeline_name=taxi"]):
        result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "tfx"), *command],
                                capture_output=True, text=True, timeout=900, cwd=taxi.work, env=env)
        if result.returncode != 0:
            break
    return Step(result, reader_of(taxi.config).latest_run_id(), versions(taxi.serving_dir))


@pytest.fixture(scope="session")
def repush_run(taxi, tfx_cli_run) -> Step:
    """Only the pipeline around the model changes (infra validation): the same model is pushed again, 1.0.1."""
    return taxi.step("--set", "infra_validation.num_examples=5")


@pytest.fixture(scope="session")
def new_contract_run(taxi, repush_run) -> Step:
    """The schema changes (the data stays valid) and the model takes one more input, which requests must now
    carry: a new model on a new serving contract, 2.0.0."""
    import yaml

    taxi.schema.write_text(taxi.schema.read_text().replace("max: 10000.0", "max: 20000.0", 1))
    raw = yaml.safe_load(taxi.config.read_text())
    raw["features"].append({"name": "dropoff_census_tract", "kind": "numeric"})
    taxi.config.write_text(yaml.safe_dump(raw))
    return taxi.step("--set", "infra_validation.num_examples=5")


@pytest.fixture(scope="session")
def unservable_run(taxi, new_contract_run) -> Step:
    """The trained model's variables are corrupted on disk (a bad export or a bad disk); the Trainer
    stays cached, so the run re-validates the same, now broken, SavedModel: nothing is pushed."""
    from pipelines.metadata.runs import read_run_summary

    model = read_run_summary(reader_of(taxi.config), new_contract_run.run_id).output("Trainer", "model")
    variables = next((Path(model.uri) / "Format-Serving" / "variables").glob("variables.data-*"))
    variables.write_bytes(b"\0not variables" * 8)
    return taxi.step("--set", "infra_validation.num_examples=5", "--set", "infra_validation.tries=1")


@pytest.fixture(scope="session")
def rollback(taxi, unservable_run) -> CompletedProcess:
    """After every run: `stable` moved back to 1.0.0 (no server runs: recorded for the next `mlops serve`)."""
    return mlops("rollback", taxi.config, "--to", "1.0.0")
