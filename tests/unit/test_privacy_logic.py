"""Privacy's plain logic: keyed pseudonyms and their key, the config section's checks, what ingestion does to a
batch, k-anonymity, statistics and schemas without values, request logs without personal features, the data
gate's k, and what `mlops init` proposes."""
import collections
import textwrap

import numpy as np
import pyarrow as pa
import pytest

from pipelines.config import ConfigError, check_data_columns, load_config
from pipelines.shared import pseudonyms

KEY_TEXT = "0123456789abcdef0123456789abcdef"

CONFIG = """
name: people
output_root: out
data: {path: data}
label: {kind: classes, name: churned_label, column: churned, classes: [0, 1]}
features:
  - {name: age, kind: numeric}
  - {name: plan, kind: string_categorical}
batch_inference: {id_column: customer_id}
privacy:
  pseudonymize: [customer_id, email]
  drop: [name]
  personal: [age]
  key_env: TEST_PSEUDONYM_KEY
"""


def config_file(tmp_path, text=CONFIG, header="customer_id,name,email,age,plan,churned"):
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "part.csv").write_text(f"{header}\nC1,Ann Lee,ann@x.org,40,basic,1\n")
    path = tmp_path / "cfg.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def key(text=KEY_TEXT) -> pseudonyms.Key:
    return pseudonyms.Key(text.encode(), "test")


def test_the_same_key_gives_the_same_pseudonym_and_another_key_another():
    assert pseudonyms.pseudonym(key(), "C1") == pseudonyms.pseudonym(key(), "C1") != pseudonyms.pseudonym(key(), "C2")
    assert pseudonyms.pseudonym(key(), "C1") != pseudonyms.pseudonym(key(KEY_TEXT[::-1]), "C1")
    assert len(pseudonyms.pseudonym(key(), "C1")) == 32
    assert key().key_id != key(KEY_TEXT[::-1]).key_id and KEY_TEXT not in repr(key())
    column = pa.chunked_array([["C1", None], ["C1", "C2"]])
    assert pseudonyms.pseudonymize_array(key(), column).to_pylist() == [
        pseudonyms.pseudonym(key(), "C1"), None, pseudonyms.pseudonym(key(), "C1"), pseudonyms.pseudonym(key(), "C2")]


def test_the_key_comes_from_a_variable_or_a_file_and_a_missing_or_short_one_names_where(tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_PSEUDONYM_KEY", raising=False)
    with pytest.raises(pseudonyms.PseudonymKeyError, match="privacy.key_env: the environment variable "
                                                           "TEST_PSEUDONYM_KEY holds no pseudonym key"):
        pseudonyms.read_key("TEST_PSEUDONYM_KEY")
    monkeypatch.setenv("TEST_PSEUDONYM_KEY", "short")
    with pytest.raises(pseudonyms.PseudonymKeyError, match=r"key_env \(TEST_PSEUDONYM_KEY\): the pseudonym key has 5"):
        pseudonyms.read_key("TEST_PSEUDONYM_KEY")
    (tmp_path / "key").write_text(KEY_TEXT + "\n")
    assert pseudonyms.read_key("UNUSED", str(tmp_path / "key")).secret == KEY_TEXT.encode()
    with pytest.raises(pseudonyms.PseudonymKeyError, match="privacy.key_file: cannot read"):
        pseudonyms.read_key("UNUSED", str(tmp_path / "missing"))


def test_a_missing_key_fails_the_checks_made_before_anything_runs(tmp_path, monkeypatch):
    from pipelines.cli import app

    monkeypatch.delenv("TEST_PSEUDONYM_KEY", raising=False)
    cfg = load_config(config_file(tmp_path))
    with pytest.raises(ConfigError, match="cfg.yaml: privacy.key_env: the environment variable TEST_PSEUDONYM_KEY"):
        check_data_columns(cfg)
    assert app.main(["run", str(tmp_path / "cfg.yaml")]) == 2
    assert not (tmp_path / "out").exists()  # nothing ran, nothing was written
    monkeypatch.setenv("TEST_PSEUDONYM_KEY", KEY_TEXT)
    check_data_columns(cfg)


@pytest.mark.parametrize("change, message", [
    ("privacy: {drop: [plan]}", "features[1]: 'plan' is dropped at ingestion"),
    ("privacy: {pseudonymize: [age]}", "features[0]: 'age' is pseudonymised at ingestion"),
    ("privacy: {personal: [plan]}", "'plan' is personal (privacy.personal) and a string_categorical feature"),
    ("privacy: {drop: [churned]}", "the label's column 'churned' cannot be dropped"),
    ("privacy: {personal: [age, age]}", "personal: 'age' is also in personal"),
    ("privacy: {drop: [email], personal: [email]}", "personal: 'email' is also in drop"),
    ("privacy: {min_k: 5}", "min_k: needs quasi_identifiers"),
    ("privacy: {personal: [age]}\nevaluation: {slices: [[age]]}", "evaluation.slices[0]: ['age'] are personal"),
    ("privacy: {drop: [customer_id]}", "batch_inference.id_column 'customer_id' is dropped at ingestion"),
])
def test_privacy_settings_that_cannot_work_are_refused_naming_the_field(tmp_path, change, message):
    text = CONFIG.split("privacy:")[0] + change + "\n"
    with pytest.raises(ConfigError) as info:
        load_config(config_file(tmp_path, text))
    assert message in str(info.value)


def test_privacy_columns_must_be_columns_of_the_data(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_PSEUDONYM_KEY", KEY_TEXT)
    cfg = load_config(config_file(tmp_path, header="customer_id,full_name,email,age,plan,churned"))
    with pytest.raises(ConfigError, match=r"privacy.drop\[0\]: 'name' is not a column"):
        check_data_columns(cfg)


def test_personal_and_pseudonymised_features_are_left_out_of_drift_and_skew(tmp_path):
    cfg = load_config(config_file(tmp_path))
    assert list(cfg.comparators("drift")) == list(cfg.comparators("skew")) == ["plan"]
    assert cfg.privacy.hidden == {"customer_id", "email", "age"}


def test_ingestion_drops_pseudonymises_and_leaves_forgotten_rows_out():
    from components.csv_example_gen.privacy import Privacy

    batch = pa.RecordBatch.from_pydict({"id": ["a", "b", "a", None], "name": ["x", "y", "x", "z"], "n": [1, 2, 3, 4]})
    privacy = Privacy(key=key(), pseudonymize=["id"], drop=["name"], id_column="id",
                      forgotten=frozenset({pseudonyms.pseudonym(key(), "b")}), quasi_identifiers=["n"])
    privacy.start("f.csv")
    private, keep = privacy.apply("f.csv", batch)
    assert private.schema.names == ["id", "n"] and keep.tolist() == [True, False, True, True]
    assert private.column(0).to_pylist()[0] == pseudonyms.pseudonym(key(), "a") and private.column(0)[3].as_py() is None
    privacy.observe("f.csv", private, keep)
    assert privacy.forgotten_rows == 1
    assert privacy.ids_by_span({"f.csv": 3}) == {3: [pseudonyms.pseudonym(key(), "a")]}
    privacy.start("f.csv")  # written again (a retry): what was seen before is forgotten
    assert privacy.forgotten_rows == 0 and privacy.ids_by_span({"f.csv": 3}) == {3: []}


def test_k_is_the_smallest_group_of_rows_sharing_their_quasi_identifiers():
    from components.csv_example_gen.privacy import group_keys, k_anonymity

    batch = pa.RecordBatch.from_pydict({"age": [30, 30, 30, 40, 40, None], "zip": ["1", "1", "1", "2", "3", "3"]})
    groups = collections.Counter(group_keys(batch, ["age", "zip"]))
    found = k_anonymity(groups, ["age", "zip"], small_group=3)
    assert (found["k"], found["groups"], found["rows"]) == (1, 4, 6)
    assert (found["small_groups"], found["rows_in_small_groups"]) == (3, 3) and found["share_in_small_groups"] == 0.5
    assert k_anonymity(collections.Counter(), ["age"], 5)["k"] == 0


def test_the_data_gate_stops_groups_under_min_k_and_names_no_value():
    from components.data_gate.gate import small_group_anomalies

    measured = {"quasi_identifiers": ["age", "zip"], "k": 2, "rows": 100, "small_group": 5, "rows_in_small_groups": 7,
                "share_in_small_groups": 0.07}
    [anomaly] = small_group_anomalies(measured, min_k=5)
    assert "k-anonymity 2 is under privacy.min_k (5): 7 rows (7.0%)" in str(anomaly) and "age, zip" in str(anomaly)
    assert small_group_anomalies({**measured, "k": 5}, min_k=5) == []


def test_statistics_of_hidden_columns_keep_counts_only():
    from tensorflow_metadata.proto.v0 import statistics_pb2

    from pipelines.shared.private_statistics import scrub

    statistics = statistics_pb2.DatasetFeatureStatisticsList()
    dataset = statistics.datasets.add(num_examples=10)
    email = dataset.features.add(type=statistics_pb2.FeatureNameStatistics.STRING)
    email.path.step.append("email")
    email.string_stats.common_stats.num_non_missing = 9
    email.string_stats.unique = 9
    email.string_stats.top_values.add(value="ann@x.org", frequency=1)
    email.string_stats.rank_histogram.buckets.add(label="ann@x.org", sample_count=1)
    age = dataset.features.add(name="age", type=statistics_pb2.FeatureNameStatistics.INT)
    age.num_stats.common_stats.num_missing = 1
    age.num_stats.max = 97
    age.num_stats.histograms.add().buckets.add(low_value=90, high_value=97, sample_count=1)
    plan = dataset.features.add(name="plan", type=statistics_pb2.FeatureNameStatistics.STRING)
    plan.string_stats.top_values.add(value="basic", frequency=5)
    assert scrub(statistics, ["email", "age"]) == 2
    text = str(statistics)
    assert "ann@x.org" not in text and "97" not in text and "90" not in text and "basic" in text
    assert email.string_stats.unique == 9 and email.string_stats.common_stats.num_non_missing == 9
    assert age.num_stats.common_stats.num_missing == 1


def test_an_inferred_schema_holds_no_dropped_column_and_no_value_of_a_hidden_one(tmp_path):
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    from pipelines.schema_inference import keep_private_values_out

    schema = text_format.Parse("""
        feature { name: "customer_id" type: INT }
        feature { name: "name" type: BYTES domain: "name" }
        feature { name: "email" type: BYTES domain: "email" }
        feature { name: "plan" type: BYTES domain: "plan" }
        string_domain { name: "name" value: "Ann Lee" }
        string_domain { name: "email" value: "ann@x.org" }
        string_domain { name: "plan" value: "basic" }""", schema_pb2.Schema())
    keep_private_values_out(schema, load_config(config_file(tmp_path)).privacy)
    assert [(f.name, f.type) for f in schema.feature] == [("customer_id", schema_pb2.BYTES), ("email", schema_pb2.BYTES),
                                                          ("plan", schema_pb2.BYTES)]
    assert [d.name for d in schema.string_domain] == ["plan"] and "ann@x.org" not in str(schema)


def test_the_request_log_keeps_only_the_models_features_less_the_personal_ones(project):
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    from pipelines.config import load_config
    from pipelines.model_server.stand_in import only_features
    from pipelines.serving.server import logged_features

    cfg = load_config(project / "configs" / "taxi.yaml", ["privacy.personal=[fare]"])
    keep = frozenset(logged_features(cfg))
    assert "fare" not in keep and "company" in keep and len(keep) == len(cfg.features) - 1
    example = tf.train.Example()
    example.features.feature["fare"].float_list.value.append(97.0)          # personal
    example.features.feature["company"].bytes_list.value.append(b"Flash Cab")  # a feature
    example.features.feature["driver_name"].bytes_list.value.append(b"Anna Keller")  # dropped at ingestion
    example.features.feature["sent_by_client"].bytes_list.value.append(b"ann@mail.example")  # unknown
    request = predict_pb2.PredictRequest()
    request.inputs["examples"].CopyFrom(tf.make_tensor_proto([example.SerializeToString(), b"not an example"]))
    logged = only_features(request, keep)
    kept, garbage = logged.inputs["examples"].string_val
    assert set(tf.train.Example.FromString(kept).features.feature) == {"company"} and garbage == b""
    assert len(tf.train.Example.FromString(request.inputs["examples"].string_val[0]).features.feature) == 4
    assert only_features(request, None) is request


def test_init_flags_e_mails_phones_names_and_ids_and_writes_a_valid_privacy_section(tmp_path):
    from pipelines import init_config as I

    rng = np.random.default_rng(0)
    rows = 200
    first = rng.choice(["Anna", "Bernd", "Clara", "Dieter", "Erika", "Frank"], rows)
    last = rng.choice(["Schulz", "Keller", "Brandt", "Vogel", "Lorenz"], rows)
    data = tmp_path / "people.csv"
    lines = ["customer_ref,full_name,contact,mobile,lat,visits,churned"] + [
        f"R{i:05d},{f} {s},{f.lower()}{i}@post.example,+49 151 {rng.integers(10 ** 6, 10 ** 7)},"
        f"{52.5 + rng.normal() / 100:.6f},{v},{int(v < 2)}" for i, (f, s, v) in
        enumerate(zip(first, last, rng.poisson(3, rows)))]
    data.write_text("\n".join(lines) + "\n")
    written = I.init_project(str(data), "churned", "people", str(tmp_path / "project"))
    assert written.plan.privacy == {
        "customer_ref": ("pseudonymize", "an ID"), "full_name": ("drop", "person names"),
        "contact": ("pseudonymize", "e-mail addresses"), "mobile": ("pseudonymize", "phone numbers"),
        "lat": ("personal", "precise coordinates (about 10 m or finer)")}
    cfg = load_config(written.config)
    assert cfg.privacy.pseudonymize == ["customer_ref", "contact", "mobile"] and cfg.privacy.drop == ["full_name"]
    assert cfg.privacy.personal == []  # coordinates are a suggestion, in a comment
    assert '# personal: ["lat"]' in open(written.config).read()
    assert "lat" in {f.name for f in cfg.features} <= {"lat", "visits"}
    schema = open(written.schema).read()
    assert "full_name" not in schema and "@post.example" not in schema


def test_scrubbed_statistics_still_tell_nan_and_infinity_to_the_schema_check():
    import tensorflow_data_validation as tfdv
    from tensorflow_data_validation.statistics import stats_impl

    from pipelines.shared.csv_tables import table_to_record_batch
    from pipelines.shared.private_statistics import scrub

    def anomalies(ages: list[float]) -> dict:
        table = pa.table({"age": ages, "plan": ["a", "b", "a", "b"]})
        statistics = stats_impl.generate_statistics_in_memory(table_to_record_batch(table))
        schema = tfdv.infer_schema(statistics)
        tfdv.get_feature(schema, "age").float_domain.disallow_nan = True
        tfdv.get_feature(schema, "age").float_domain.disallow_inf = True
        scrub(statistics, ["age"])
        assert "61.5" not in str(statistics)
        return {k: v.description for k, v in tfdv.validate_statistics(statistics, schema).anomaly_info.items()}

    assert anomalies([61.5, float("nan"), 30.0, float("inf")]) == {
        "age": "Float feature has NaN values. Float feature has Inf values."}
    assert anomalies([61.5, 40.0, 30.0, 20.0]) == {}
