"""The StatisticsGen executor on a small messy table: computed in this process, it writes what TFX's Beam
StatisticsGen writes (the same statistics up to the last digits of sums and the order of equally frequent
values, the same artifact properties); Beam's workers and Beam-only options go to TFX's executor; hidden
columns keep their counts only, on both paths."""
import json
import math

import pytest
from google.protobuf import json_format
from tfx.components.statistics_gen import executor as tfx_executor
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.types import Channel, standard_artifacts
from tfx.types import standard_component_specs as keys

from components.csv_example_gen import executor as example_gen_executor
from components.csv_example_gen.component import fast_csv_example_gen
from components.statistics_gen import executor
from components.statistics_gen.component import StatisticsGen
from pipelines.shared import artifact_files
from pipelines.shared.pseudonyms import HIDDEN_COLUMNS

pytestmark = pytest.mark.component

IN_MEMORY = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    """300 rows: missing and non-finite numbers, whole numbers, a rare and a frequent category, ties."""
    folder = tmp_path_factory.mktemp("table")
    (folder / "data").mkdir()
    rows = [f"{i},{'' if i % 7 == 0 else 'nan' if i == 5 else 'inf' if i == 6 else i * 0.37},"
            f"{['a', 'b', 'c', 'd'][i % 4] if i % 11 else ''},{i % 5},{i * 1000.0}" for i in range(300)]
    (folder / "data" / "part.csv").write_text("id,value,kind,small,whole\n" + "\n".join(rows) + "\n")
    component = fast_csv_example_gen(str(folder / "data"), "*.csv", [""], train=2, eval=1)
    artifact = standard_artifacts.Examples()
    artifact.uri = str(folder / "examples")
    example_gen_executor.Executor().Do({}, {keys.EXAMPLES_KEY: [artifact]}, dict(component.exec_properties))
    return artifact


def run(executor_class, examples, uri, hidden=(), beam_args=IN_MEMORY):
    component = StatisticsGen(examples=Channel(type=standard_artifacts.Examples), hidden_columns=list(hidden))
    properties = dict(component.exec_properties)
    if executor_class is tfx_executor.Executor:
        properties.pop(HIDDEN_COLUMNS)
    statistics = standard_artifacts.ExampleStatistics()
    statistics.uri = str(uri)
    context = BaseBeamExecutor.Context(beam_pipeline_args=list(beam_args), tmp_dir=str(uri) + "-tmp", unique_id="1")
    executor_class(context).Do({keys.EXAMPLES_KEY: [examples]}, {keys.STATISTICS_KEY: [statistics]}, properties)
    return statistics


def comparable(statistics, split: str) -> dict:
    """A split's statistics as a dict, numbers to 9 significant digits and equally frequent values sorted."""
    proto = artifact_files.read_split_statistics(statistics.uri, split)

    def normalise(value):
        if isinstance(value, float):
            return value if not math.isfinite(value) or value == 0 else float(f"{value:.9g}")
        if isinstance(value, dict):
            return {k: normalise(v) for k, v in value.items()}
        if isinstance(value, list):
            items = [normalise(v) for v in value]
            if items and isinstance(items[0], dict) and "label" in items[0]:  # top values and rank histograms
                return sorted(items, key=lambda b: (-b.get("sampleCount", b.get("frequency", 0)), b["label"]))
            return items
        return value

    return normalise(json_format.MessageToDict(proto))


def test_in_process_statistics_are_those_of_tfx_beam_statistics_gen(examples, tmp_path):
    ours = run(executor.Executor, examples, tmp_path / "ours")
    theirs = run(tfx_executor.Executor, examples, tmp_path / "theirs")

    for split in ("train", "eval"):
        assert comparable(ours, split) == comparable(theirs, split)
    assert int(comparable(ours, "train")["datasets"][0]["numExamples"]) > 150  # a real split, not two empty ones
    for name in ("split_names", "span"):
        assert getattr(ours, name) == getattr(theirs, name)
    assert ours.get_json_value_custom_property(tfx_executor.SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME) == \
        theirs.get_json_value_custom_property(tfx_executor.SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME)
    assert ours.get_string_custom_property(tfx_executor.STATS_DASHBOARD_LINK) == \
        theirs.get_string_custom_property(tfx_executor.STATS_DASHBOARD_LINK)


@pytest.mark.parametrize("beam_args", [IN_MEMORY, ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]])
def test_hidden_columns_keep_counts_only_on_either_path(examples, tmp_path, beam_args):
    statistics = run(executor.Executor, examples, tmp_path / "stats", hidden=["kind"], beam_args=beam_args)
    features = {f["path"]["step"][0]: f for f in comparable(statistics, "train")["datasets"][0]["features"]}
    assert "topValues" not in json.dumps(features["kind"]) and "rankHistogram" not in json.dumps(features["kind"])
    assert int(features["kind"]["stringStats"]["commonStats"]["numNonMissing"]) > 0
    assert "topValues" in json.dumps(features["small"]) or "histograms" in json.dumps(features["small"])


def test_beam_workers_and_beam_only_options_go_to_tfx_executor(examples):
    from tensorflow_data_validation import StatsOptions

    plain = StatsOptions()
    assert not executor.needs_beam(IN_MEMORY, plain, {}, examples)
    assert not executor.needs_beam([], plain, {}, examples)  # Beam's default: the DirectRunner, in_memory
    for args in (["--direct_running_mode=multi_processing"], ["--runner=DataflowRunner", "--project=p"],
                 ["--runner", "FlinkRunner"], ["--direct_running_mode", "multi_threading"]):
        assert executor.needs_beam(args, plain, {}, examples), args
    assert executor.needs_beam(IN_MEMORY, StatsOptions(sample_rate=0.5), {}, examples)
    assert executor.needs_beam(IN_MEMORY, StatsOptions(feature_allowlist=["value"]), {}, examples)
    assert executor.needs_beam(IN_MEMORY, plain, {keys.SHARDED_STATS_OUTPUT_KEY: True}, examples)
    assert executor.needs_beam(IN_MEMORY, plain, {keys.SAMPLE_RATE_BY_SPLIT_KEY: '{"train": 0.5}'}, examples)
