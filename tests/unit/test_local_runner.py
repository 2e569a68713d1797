"""Local runs: Beam arguments by data size and config; no packaged TFX for the DirectRunner; retries of a failed
component."""
import re
import tempfile

import pytest
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.utils import dependency_utils

from pipelines.config import load_config
from pipelines.runners.local import MB, beam_args, describe_beam_args, tfx_packaged_for_remote_runners_only


@pytest.fixture
def taxi(project):
    return load_config(project / "configs" / "taxi.yaml")


def test_beam_runs_in_process_for_small_data_and_in_parallel_for_large(taxi):
    small = beam_args(taxi, input_bytes=2 * MB)
    assert set(small) == {"StatisticsGen", "Transform", "Evaluator", "BulkInferrer"}  # ExampleGen reads without Beam
    assert {tuple(args[:2]) for args in small.values()} == {("--direct_running_mode=in_memory",
                                                             "--direct_num_workers=1")}
    large = beam_args(taxi, input_bytes=1024 * MB)
    for node in ("Transform", "Evaluator"):
        assert large[node][0] == "--direct_running_mode=multi_processing"
        assert int(large[node][1].split("=")[1]) >= 1
    assert large["StatisticsGen"][0] == "--direct_running_mode=in_memory"  # measured faster at every size


def test_each_component_switches_at_its_own_size(project):
    cfg = load_config(project / "configs" / "taxi.yaml", ["runner.beam.multi_processing_above_mb={Transform: 100}"])
    modes = {node: args[0].split("=")[1] for node, args in beam_args(cfg, input_bytes=50 * MB).items()}
    assert modes == {"StatisticsGen": "in_memory", "Transform": "in_memory", "Evaluator": "multi_processing",
                     "BulkInferrer": "in_memory"}
    everywhere = load_config(project / "configs" / "taxi.yaml", ["runner.beam.multi_processing_above_mb=10"])
    assert {args[0] for args in beam_args(everywhere, input_bytes=10 * MB).values()} == {
        "--direct_running_mode=multi_processing"}


def test_beam_mode_per_component_and_extra_args_from_config(project):
    cfg = load_config(project / "configs" / "taxi.yaml",
                      ["runner.beam.mode=multi_processing", "runner.beam.workers=3",
                       "runner.beam.modes={StatisticsGen: in_memory}", "runner.beam.extra_args=['--experiments=x']"])
    args = beam_args(cfg, input_bytes=1)
    assert args["Transform"] == args["Evaluator"] == ["--direct_running_mode=multi_processing",
                                                      "--direct_num_workers=3", "--experiments=x"]
    assert args["StatisticsGen"] == ["--direct_running_mode=in_memory", "--direct_num_workers=1", "--experiments=x"]
    assert describe_beam_args(args) == ("StatisticsGen in_memory, Transform multi_processing x3, "
                                        "Evaluator multi_processing x3, BulkInferrer multi_processing x3")


def test_each_beam_component_runs_with_exactly_its_own_args(project):
    from pipelines.assembly import create_pipeline

    cfg = load_config(project / "configs" / "taxi.yaml", ["runner.beam.modes={Evaluator: multi_processing}",
                                                          "runner.beam.workers=2"])
    pipeline = create_pipeline(cfg, beam_args=beam_args(cfg, input_bytes=1))
    carried = {c.id: c.executor_spec.beam_pipeline_args for c in pipeline.components
               if hasattr(c.executor_spec, "beam_pipeline_args")}
    assert carried == {"StatisticsGen": ["--direct_running_mode=in_memory", "--direct_num_workers=1"],
                       "Transform": ["--direct_running_mode=in_memory", "--direct_num_workers=1"],
                       "Evaluator": ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]}
    assert pipeline.beam_pipeline_args == []


def test_auto_mode_measures_the_configured_files(taxi):
    # The real 15k-row taxi CSV is about 2 MB: in-process.
    assert beam_args(taxi)["Transform"][0] == "--direct_running_mode=in_memory"


@pytest.mark.parametrize("override, message", [
    ("runner.beam.modes={ExampleGen: in_memory}", "runner.beam.modes: Value error, unknown components ['ExampleGen']"),
    ("runner.beam.multi_processing_above_mb={Trainer: 1}", "unknown components ['Trainer']"),
    ("runner.beam.extra_args=['--flink_password=hunter2']", "--flink_password looks like a secret"),
])
def test_beam_config_mistakes_name_the_field(project, override, message):
    from pipelines.config import ConfigError

    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        load_config(project / "configs" / "taxi.yaml", [override])
    assert "hunter2" not in str(error.value)


# --- retries ---------------------------------------------------------------------------


def summary_with(states: dict, outcome: str):
    from pipelines.metadata.runs import ComponentRun, RunSummary

    return RunSummary("taxi", "run", [ComponentRun(node, state, 1.0) for node, state in states.items()], outcome=outcome)


def test_a_failed_component_is_retried_while_it_has_retries_and_the_gate_never_is(project):
    from pipelines.runners.local import backoff_seconds, component_to_retry

    retries = load_config(project / "configs" / "taxi.yaml", [
        "runner.retries={default: 1, components: {Trainer: 2}}"]).runner.retries
    trainer_failed = summary_with({"Transform": "cached", "Trainer": "failed"}, "failed")
    assert component_to_retry(trainer_failed, retries, {}) == "Trainer"
    assert component_to_retry(trainer_failed, retries, {"Trainer": 1}) == "Trainer"
    assert component_to_retry(trainer_failed, retries, {"Trainer": 2}) is None
    assert component_to_retry(summary_with({"Evaluator": "failed"}, "failed"), retries, {"Evaluator": 1}) is None
    assert component_to_retry(summary_with({"DataGate": "failed"}, "gated"), retries, {}) is None
    assert [backoff_seconds(30, n) for n in (1, 2, 3, 9)] == [30, 60, 120, 3600]


def test_run_and_report_runs_again_after_a_failure_with_retries_left(project, tmp_path, monkeypatch, capfd):
    from types import SimpleNamespace

    from pipelines.metadata import runs, store
    from pipelines.runners import local

    cfg = load_config(project / "configs" / "taxi.yaml", [f"output_root={tmp_path}", "runner.retries.default=2",
                                                          "runner.retries.backoff_seconds=0"])
    attempts = []

    def run(pipeline, parallel_components):  # the Trainer fails once, then the pipeline completes
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("transient")

    summaries = iter([summary_with({"Trainer": "failed"}, "failed"), summary_with({"Trainer": "complete"}, "pushed")])
    monkeypatch.setattr(local, "run", run)
    monkeypatch.setattr(local, "local_pipeline", lambda cfg: SimpleNamespace(components=[], beam_pipeline_args=[]))
    monkeypatch.setattr(store, "open_store", lambda cfg, create=True: None)
    monkeypatch.setattr(store, "open_reader", lambda cfg: None)
    monkeypatch.setattr(local.recovery, "recover", lambda *args, **kwargs: [])
    monkeypatch.setattr(local.privacy, "unfinished_forget_requests", lambda reader: [])
    monkeypatch.setattr(runs, "read_run_summary", lambda reader: next(summaries))
    report = local.run_and_report(cfg)
    assert len(attempts) == 2 and not report.failed
    assert "Trainer failed (RuntimeError); retry 1 of 2 in a new run in 0 s" in capfd.readouterr().out


class NoOpBeamExecutor(BaseBeamExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        """Never run: the test reads the Beam args its constructor settled on."""


def test_direct_runner_components_are_not_given_a_packaged_tfx(tmp_path, monkeypatch):
    """TFX's Beam executors package TFX into a /tmp folder that is never deleted; a local run skips that for
    the DirectRunner and keeps it for a remote runner."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where TFX's mkdtemp would put the sdist

    def executor_args(args):
        return NoOpBeamExecutor(BaseBeamExecutor.Context(beam_pipeline_args=list(args)))._beam_pipeline_args

    direct = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
    with tfx_packaged_for_remote_runners_only():
        assert not any(a.startswith("--extra_package") for a in executor_args(direct))
        assert not any(a.startswith("--extra_package") for a in executor_args([*direct, "--runner=DirectRunner"]))
        assert list(tmp_path.iterdir()) == []
        monkeypatch.setattr(dependency_utils, "build_ephemeral_package", lambda: "/built/tfx_ephemeral.tar.gz")
        remote = executor_args(["--runner", "DataflowRunner", "--project=p"])
        assert "--extra_package=/built/tfx_ephemeral.tar.gz" in remote
    assert "--extra_package=/built/tfx_ephemeral.tar.gz" in executor_args(direct)  # TFX's own behaviour outside a run


def test_nodes_start_once_everything_upstream_is_done_those_others_wait_for_first():
    from pipelines.runners.dag import ready, waiting

    upstream = {"ExampleGen": set(), "Transform": {"ExampleGen"}, "Trainer": {"Transform"},
                "FeatureImportance": {"Trainer"}, "Evaluator": {"Trainer", "resolver"}, "resolver": set(),
                "InfraValidator": {"Trainer"}, "Pusher": {"Evaluator", "InfraValidator"}}
    assert waiting(upstream) == {"ExampleGen": 6, "Transform": 5, "Trainer": 4, "FeatureImportance": 0,
                                 "Evaluator": 1, "resolver": 2, "InfraValidator": 1, "Pusher": 0}
    assert ready(upstream, done=set(), started=set()) == ["ExampleGen", "resolver"]
    assert ready(upstream, done={"ExampleGen"}, started={"ExampleGen", "resolver"}) == ["Transform"]
    # Nothing waits for FeatureImportance: it starts after the two the Pusher waits for (ties: pipeline order).
    assert ready(upstream, done={"ExampleGen", "resolver", "Transform", "Trainer"},
                 started={"ExampleGen", "resolver", "Transform", "Trainer"}) == [
        "Evaluator", "InfraValidator", "FeatureImportance"]
    everything_but_pusher = set(upstream) - {"Pusher"}
    assert ready(upstream, done=everything_but_pusher - {"InfraValidator"}, started=everything_but_pusher) == []
    assert ready(upstream, done=everything_but_pusher, started=everything_but_pusher) == ["Pusher"]
