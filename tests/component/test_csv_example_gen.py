"""The pyarrow ExampleGen executor on a small CSV: splits written, nulls missing, types kept."""
import json

import pytest
import tensorflow as tf
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs as keys

from components.csv_example_gen import executor
from components.csv_example_gen.component import fast_csv_example_gen

pytestmark = pytest.mark.component


def read_split(examples_uri, split):
    files = tf.io.gfile.glob(f"{examples_uri}/Split-{split}/*")
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return [tf.train.Example.FromString(r.numpy()) for r in dataset]


def test_executor_writes_train_and_eval_splits(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rows = "\n".join(f"{i},{'NA' if i % 10 == 0 else i * 1.5},{'a' if i % 2 else 'b'}" for i in range(300))
    (data / "part.csv").write_text("id,value,kind\n" + rows + "\n")
    (data / "notes.txt").write_text("not data")

    component = fast_csv_example_gen(str(data), "*.csv", ["NA"], train=2, eval=1)
    exec_properties = dict(component.exec_properties)
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "out")
    executor.Executor().Do({}, {keys.EXAMPLES_KEY: [examples]}, exec_properties)

    assert json.loads(examples.split_names) == ["train", "eval"]
    train, evaluation = read_split(examples.uri, "train"), read_split(examples.uri, "eval")
    assert len(train) + len(evaluation) == 300
    assert 150 < len(train) < 250  # hash buckets 2:1
    by_id = {e.features.feature["id"].int64_list.value[0]: e.features.feature for e in train + evaluation}
    assert by_id[10]["value"].WhichOneof("kind") is None  # "NA" is missing
    assert by_id[11]["value"].float_list.value == [16.5]
    assert by_id[11]["kind"].bytes_list.value == [b"a"]


def test_null_values_travel_in_the_custom_config():
    component = fast_csv_example_gen("/data", "*.csv", ["NA", "-"], train=2, eval=1)
    assert executor.custom_options(component.exec_properties).null_values == ["NA", "-"]
    assert executor.custom_options({}).null_values == [""]


def test_the_eval_cap_travels_in_the_custom_config_and_caps_the_eval_split(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "part.csv").write_text("id\n" + "\n".join(str(i) for i in range(3000)) + "\n")
    component = fast_csv_example_gen(str(data), "*.csv", [""], train=2, eval=1, eval_max_rows=300)
    assert executor.custom_options(component.exec_properties).eval_max_rows == 300
    assert executor.custom_options(fast_csv_example_gen("/d", "*", [""], 2, 1).exec_properties).eval_max_rows is None
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "out")
    executor.Executor().Do({}, {keys.EXAMPLES_KEY: [examples]}, dict(component.exec_properties))
    train, evaluation = read_split(examples.uri, "train"), read_split(examples.uri, "eval")
    assert len(train) + len(evaluation) == 3000 and 240 < len(evaluation) < 360


def test_a_window_of_spans_writes_the_earlier_spans_whole_to_their_own_split(tmp_path):
    for span, rows in ((1, range(0, 100)), (2, range(100, 250)), (3, range(250, 300)), (4, range(300, 600))):
        (tmp_path / "data" / f"span-{span}").mkdir(parents=True)
        (tmp_path / "data" / f"span-{span}" / "part.csv").write_text("id\n" + "\n".join(map(str, rows)) + "\n")
    component = fast_csv_example_gen(str(tmp_path / "data"), "span-{SPAN}/*.csv", [""], 2, 1, span_window=3)

    def ingest(newest: int):
        """What TFX's driver does before the executor runs: the newest span's number in the pattern."""
        exec_properties = dict(component.exec_properties)
        exec_properties[keys.INPUT_CONFIG_KEY] = exec_properties[keys.INPUT_CONFIG_KEY].replace("{SPAN}", str(newest))
        exec_properties["span"] = newest
        examples = standard_artifacts.Examples()
        examples.uri = str(tmp_path / f"out-{newest}")
        executor.Executor().Do({}, {keys.EXAMPLES_KEY: [examples]}, exec_properties)
        assert json.loads(examples.split_names) == ["train", "eval", "earlier_spans"]
        return examples, {split: sorted(e.features.feature["id"].int64_list.value[0]
                                        for e in read_split(examples.uri, split))
                          for split in ("train", "eval", "earlier_spans")}

    examples, ids = ingest(3)  # as if span 4 had not arrived yet
    assert examples.get_string_custom_property("spans") == "1,2,3"
    assert sorted(ids["train"] + ids["eval"]) == list(range(250, 300))
    assert ids["earlier_spans"] == list(range(0, 250))

    # Before a second span arrives the split is there, empty: Transform and the Trainer are told to read it.
    first, ids = ingest(1)
    assert first.get_string_custom_property("spans") == "1" and ids["earlier_spans"] == []
