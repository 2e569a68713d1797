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


KEY = "k" * 40


def test_privacy_pseudonymises_drops_forgets_indexes_spans_and_measures_k(tmp_path, monkeypatch):
    from pipelines.config.parts import IngestionPrivacyPart
    from pipelines.shared import pseudonyms

    monkeypatch.setenv("TEST_PSEUDONYM_KEY", KEY)
    key = pseudonyms.read_key("TEST_PSEUDONYM_KEY")
    for span, first in ((1, 0), (2, 100)):
        rows = [f"00{i},Person {i},{20 + i % 3},{'x' if i % 2 else 'y'}" for i in range(first, first + 100)]
        rows.append(f"00{first},Person {first},{20 + first % 3},y")  # a second row of the same customer
        (tmp_path / "data" / f"span-{span}").mkdir(parents=True)
        (tmp_path / "data" / f"span-{span}" / "part.csv").write_text("customer,name,age,kind\n" + "\n".join(rows) + "\n")
    forgotten = pseudonyms.pseudonym(key, "005")  # a span-1 customer: leading zeros are part of the ID
    privacy = IngestionPrivacyPart(pseudonymize=["customer"], drop=["name"], key_env="TEST_PSEUDONYM_KEY",
                                   key_id=key.key_id, id_column="customer", forgotten=[forgotten],
                                   quasi_identifiers=["age", "kind"], small_group=40)
    component = fast_csv_example_gen(str(tmp_path / "data"), "span-{SPAN}/*.csv", [""], 2, 1, span_window=2,
                                     privacy=privacy)
    exec_properties = dict(component.exec_properties)
    exec_properties[keys.INPUT_CONFIG_KEY] = exec_properties[keys.INPUT_CONFIG_KEY].replace("{SPAN}", "2")
    exec_properties["span"] = 2
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "out")
    executor.Executor().Do({}, {keys.EXAMPLES_KEY: [examples]}, exec_properties)

    written = [e.features.feature for split in ("train", "eval", "earlier_spans") for e in read_split(examples.uri, split)]
    assert len(written) == 201 and all("name" not in f for f in written)  # 202 rows, one forgotten
    customers = [f["customer"].bytes_list.value[0].decode() for f in written]
    assert forgotten not in customers and pseudonyms.pseudonym(key, "0012") in customers
    assert not set(customers) & {f"00{i}" for i in range(200)}
    index = {span: (tmp_path / "out" / pseudonyms.INDEX_DIR / f"span-{span}.txt").read_text().split() for span in (1, 2)}
    assert len(index[1]) == 99 and len(index[2]) == 100 and forgotten not in index[1]
    assert pseudonyms.pseudonym(key, "00100") in index[2] and pseudonyms.pseudonym(key, "00100") not in index[1]
    record = json.loads(examples.get_string_custom_property(pseudonyms.PRIVACY_PROPERTY))
    assert (record["key_id"], record["forgotten_rows"], record["dropped"]) == (key.key_id, 1, ["name"])
    # age (20, 21, 22) x kind (x, y): 6 groups of 33-34 rows, every one under the small group of 40
    assert record["k_anonymity"]["groups"] == 6 and record["k_anonymity"]["rows"] == 201
    assert record["k_anonymity"]["rows_in_small_groups"] == 201 and 30 <= record["k_anonymity"]["k"] <= 34


def test_a_key_other_than_the_pipelines_fails_the_ingestion(tmp_path, monkeypatch):
    from pipelines.config.parts import IngestionPrivacyPart
    from pipelines.shared import pseudonyms

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "part.csv").write_text("customer,age\n1,20\n2,30\n")
    monkeypatch.setenv("TEST_PSEUDONYM_KEY", KEY)
    privacy = IngestionPrivacyPart(pseudonymize=["customer"], key_env="TEST_PSEUDONYM_KEY", key_id="0" * 16)
    component = fast_csv_example_gen(str(tmp_path / "data"), "*.csv", [""], 2, 1, privacy=privacy)
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "out")
    with pytest.raises(pseudonyms.PseudonymKeyError, match="not the one this pipeline was built with"):
        executor.Executor().Do({}, {keys.EXAMPLES_KEY: [examples]}, dict(component.exec_properties))
