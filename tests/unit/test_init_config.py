"""`mlops init`'s inference on small tables: label kinds, feature kinds, each exclusion rule, null markers,
metrics and thresholds, and the config it writes (valid, with a comment per column left out)."""
import re

import numpy as np
import pyarrow as pa
import pytest

from pipelines import init_config as I
from pipelines.config import load_config

ROWS = 200
rng = np.random.default_rng(0)


def table(**columns) -> pa.Table:
    return pa.table({name: values if isinstance(values, pa.Array) else pa.array(values)
                     for name, values in columns.items()})


def noise(n=ROWS):
    return rng.normal(size=n).tolist()


def test_label_kinds_follow_the_label_column():
    columns = I.profile(table(
        price=rng.uniform(1, 500, ROWS).tolist(),                      # numbers with many values
        grade=[i % 3 for i in range(ROWS)],                            # integers with few values
        smoker=[i % 2 == 0 for i in range(ROWS)],                      # booleans
        species=["b", "a", "c", "a"] * (ROWS // 4),                    # text
        rating=[float(i % 5) for i in range(ROWS)],                    # whole numbers read as floats
        count=list(range(ROWS))))                                      # integers with many values
    assert I.label_spec(columns["price"], "y") == {"kind": "regression", "name": "y", "column": "price"}
    assert I.label_spec(columns["grade"], "y")["classes"] == [0, 1, 2]
    assert I.label_spec(columns["smoker"], "y")["classes"] == [False, True]
    assert I.label_spec(columns["species"], "y")["classes"] == ["a", "b", "c"]
    assert I.label_spec(columns["rating"], "y")["classes"] == [0, 1, 2, 3, 4]
    assert I.label_spec(columns["count"], "y")["kind"] == "regression"
    with pytest.raises(ValueError, match="1 distinct value"):
        I.label_spec(I.profile(table(c=[1] * ROWS))["c"], "y")


def test_feature_kinds_and_exclusions():
    data = table(
        amount=noise(),
        hour=[i % 24 for i in range(ROWS)],
        year=[2000 + i for i in range(ROWS)],                          # an integer per row: an ID
        area=[i % 77 * 3 for i in range(ROWS)],                        # integers, but a range too wide
        city=["x", "y", "z", "w"] * (ROWS // 4),
        customer=[f"c{i}" for i in range(ROWS)],                       # a string per row: an ID
        company=[f"firm{i % 150}" for i in range(ROWS)],               # a large vocabulary
        flag=[True, False] * (ROWS // 2),
        constant=["same"] * ROWS,
        empty=pa.nulls(ROWS),
        label=noise())
    result = I.plan(data, "label", [""])
    kinds = {f["name"]: f for f in result.features}
    assert kinds["amount"] == {"name": "amount", "kind": "numeric", "scaling": "z_score"}
    assert kinds["hour"] == {"name": "hour", "kind": "int_categorical", "min": 0, "max": 23}
    assert kinds["area"]["kind"] == "numeric"
    assert kinds["city"] == {"name": "city", "kind": "string_categorical", "oov_buckets": 1}
    assert kinds["company"]["top_k"] == I.TOP_K
    assert kinds["flag"] == {"name": "flag", "kind": "int_categorical", "min": 0, "max": 1}
    assert result.left_out == {"label": "the label", "year": "a distinct value on every row (an ID)",
                               "customer": "a distinct value on every row (an ID)", "constant": "one value only",
                               "empty": "no value at all"}


def test_a_column_that_alone_predicts_the_label_is_left_out_as_a_likely_leak():
    outcome = [i % 2 for i in range(ROWS)]
    data = table(
        useful=[o + rng.normal(scale=1.0) for o in outcome],          # informative, far from perfect
        status=["paid" if o else "unpaid" for o in outcome],          # the label in other words
        copy=[o * 10.0 + rng.normal(scale=0.01) for o in outcome],    # a number that gives it away
        outcome=outcome)
    result = I.plan(data, "outcome", [""])
    assert [f["name"] for f in result.features] == ["useful"]
    assert "likely leakage" in result.left_out["status"] and "likely leakage" in result.left_out["copy"]

    regression = table(x=noise(), y2=[v * 2.5 + 1 for v in range(ROWS)], target=[float(v) for v in range(ROWS)])
    result = I.plan(regression, "target", [""])
    assert "likely leakage" in result.left_out["y2"] and [f["name"] for f in result.features] == ["x"]


def test_metrics_thresholds_and_slice_suit_the_label():
    outcome = [int(i % 4 == 0) for i in range(ROWS)]  # 25% positives
    binary = I.plan(table(x=noise(), city=["a", "b"] * (ROWS // 2), y=outcome), "y", [""]).evaluation
    assert binary["metrics"] == ["ExampleCount", "BinaryAccuracy", "AUC"]
    assert binary["thresholds"][0]["lower_bound"] == 0.75  # at least as good as always answering the commonest
    assert binary["slices"] == [["city"]]

    three = I.plan(table(x=noise(), y=[i % 3 for i in range(ROWS)]), "y", [""]).evaluation
    assert three["metrics"] == ["ExampleCount", "SparseCategoricalAccuracy"] and "slices" not in three

    values = rng.uniform(0, 100, ROWS)
    regression = I.plan(table(x=noise(), y=values.tolist()), "y", [""]).evaluation
    threshold = regression["thresholds"][0]
    assert threshold["metric"] == "MeanAbsoluteError" and threshold["change"]["direction"] == "lower_is_better"
    assert threshold["upper_bound"] == pytest.approx(np.abs(values - np.median(values)).mean(), rel=1e-4)


def test_null_markers_are_found_in_columns_of_numbers(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("mass,island,note\n3750,Biscoe,NA\nNA,Dream,ok\n?,Torgersen,NA\n4100,NA,fine\n")
    # "NA" in `note` is text among text, not a marker; in `mass` it is, as is "?".
    assert I.detect_null_markers([str(path)]) == ["", "?", "NA"]


def test_the_written_config_is_valid_and_says_why_columns_were_left_out(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rows = ["id,size,color,label"] + [f"{i},{rng.normal():.3f},{'red' if i % 2 else 'blue'},{i % 3}"
                                      for i in range(ROWS)]
    (data / "part-1.csv").write_text("\n".join(rows) + "\n")
    written = I.init_project(str(data), "label", "toy", str(tmp_path / "project"))
    text = open(written.config).read()
    assert "  # left out id: a distinct value on every row (an ID)" in text
    cfg = load_config(written.config)
    assert cfg.batch_inference.id_column == "id"  # the ID left out of the features identifies predictions
    assert cfg.data_dir == str(data) and cfg.data.pattern == "*.csv"
    assert cfg.label.kind == "classes" and cfg.label.classes == [0, 1, 2]
    assert [f.name for f in cfg.features] == ["size", "color"]
    assert cfg.schema_path == written.schema  # found by name: schemas/toy/schema.pbtxt
    schema = open(written.schema).read()
    assert 'name: "label"' in schema and 'not_in_environment: "SERVING"' in schema
    assert "disallow_nan: true" in schema and "disallow_inf: true" in schema  # `size`, a float column

    with pytest.raises(FileExistsError, match="--force overwrites it"):
        I.init_project(str(data), "label", "toy", str(tmp_path / "project"))
    with pytest.raises(ValueError, match="--label 'lable' is not a column; columns: id, size, color, label"):
        I.init_project(str(data), "lable", "toy2", str(tmp_path / "project"))


def test_monotone_transforms_of_the_label_are_leaks_and_strong_columns_are_suspects():
    wage = rng.lognormal(3, 0.6, 1000)
    data = table(logwage=np.log(wage).tolist(),                                   # the label, log-transformed
                 age=(wage / 10 + rng.normal(scale=12, size=1000)).tolist(),       # informative, honest
                 wage=wage.tolist())
    result = I.plan(data, "wage", [""])
    assert "likely leakage" in result.left_out["logwage"] and [f["name"] for f in result.features] == ["age"]
    assert result.suspects == {}

    outcome = rng.integers(0, 2, 1000)
    strong = outcome + rng.normal(scale=0.4, size=1000)  # alone an AUC of about 0.96: kept, flagged
    result = I.plan(table(strong=strong.tolist(), x=noise(1000), y=outcome.tolist()), "y", [""])
    assert [f["name"] for f in result.features] == ["strong", "x"]
    assert "suspiciously well" in result.suspects["strong"] and "x" not in result.suspects


def test_a_leak_that_takes_two_columns_is_left_out_with_the_skill_with_and_without_it():
    """The label is a function of two columns (a price paid against the list price, say): neither alone gives it
    away, so no single-column rule sees it; the reference model with both is near-perfect."""
    a, b = rng.normal(size=3000), rng.normal(size=3000)
    honest = (a + b) + rng.normal(scale=3, size=3000)
    data = table(paid=a.tolist(), listed=b.tolist(), honest=honest.tolist(),
                 y=["yes" if v > 0 else "no" for v in a + b])
    result = I.plan(data, "y", [""])
    assert [f["name"] for f in result.features] == ["honest"]
    for column in ("paid", "listed"):
        assert "lets the other columns explain the label almost perfectly" in result.left_out[column]
        assert re.search(r"reference skill 0\.9\d\d with, 0\.[0-4]\d\d without", result.left_out[column])
    assert "with listed it" in result.left_out["paid"] and "reference model" in result.reference_note


def test_a_small_group_that_carries_most_of_the_signal_is_a_suspect_carried_into_the_config():
    """A column recorded after the outcome (a balance after the loan) that a model learns well but not perfectly:
    the data cannot say it is a leak, so init asks, and the run's summary will show its attribution."""
    outcome = rng.integers(0, 2, 2000)
    balance = outcome * 3 + rng.normal(scale=1.2, size=2000)   # alone about 0.83 of the way from trivial to perfect
    data = table(balance=balance.tolist(), x=noise(2000), z=noise(2000), y=outcome.tolist())
    result = I.plan(data, "y", [""])
    assert "balance" in [f["name"] for f in result.features]
    assert "is it known before the outcome?" in result.suspects["balance"]
    assert result.evaluation["suspects"] == result.suspects and set(result.suspects) == {"balance"}


def test_a_rare_positive_class_does_not_make_every_column_a_leak():
    outcome = [1 if i % 1000 == 0 else 0 for i in range(5000)]  # 0.1% positives
    data = table(x=noise(5000), city=[["a", "b", "c"][i % 3] for i in range(5000)], y=outcome)
    result = I.plan(data, "y", [""])
    assert [f["name"] for f in result.features] == ["x", "city"] and not result.suspects


def test_missing_numbers_are_imputed_by_their_shape_and_flagged_when_material():
    n = 1000
    income = rng.lognormal(10, 1, n)                 # skewed: the median
    age = rng.normal(40, 10, n)                       # symmetric: the mean
    data = table(income=pa.array([None if i % 5 == 0 else v for i, v in enumerate(income)]),
                 age=pa.array([None if i % 50 == 0 else v for i, v in enumerate(age)]),
                 full=noise(n), y=[i % 2 for i in range(n)])
    features = {f["name"]: f for f in I.plan(data, "y", [""]).features}
    assert features["income"]["impute"] == "median" and features["income"]["missing_indicator"] is True  # 20%
    assert features["age"]["impute"] == "mean" and "missing_indicator" not in features["age"]           # 2%
    assert "impute" not in features["full"]


def test_a_label_missing_on_many_rows_raises_the_gates_share_with_a_note():
    y = [None if i % 4 == 0 else i % 2 for i in range(ROWS)]  # 25% missing
    result = I.plan(table(x=noise(), y=pa.array(y)), "y", [""])
    assert result.label["max_missing_fraction"] == 0.3 and "25.0%" in result.label_note
    few = I.plan(table(x=noise(), y=pa.array([None if i == 0 else i % 2 for i in range(ROWS)])), "y", [""])
    assert "max_missing_fraction" not in few.label and "0.5%" in few.label_note


@pytest.mark.parametrize("content, message", [
    (b"a,b,a,y\n1,2,3,0\n", "the column name 'a' appears more than once"),
    # mtime=0: gzip's header holds the time, and a test id that changes between xdist workers fails collection
    (__import__("gzip").compress(b"a,y\n1,0\n", mtime=0), "is gzip-compressed: decompress it first (gunzip"),
    (b"name,y\ncaf\xe9,1\nbar,0\n", "column 'name' is not UTF-8 text: save the file as UTF-8"),
], ids=["repeated-column", "gzip", "not-utf8"])
def test_files_a_config_cannot_be_written_from_are_refused_with_what_to_do(tmp_path, content, message):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=__import__("re").escape(message)):
        I.init_project(str(path), "y", "toy", str(tmp_path / "project"))
    assert not (tmp_path / "project" / "configs" / "toy.yaml").exists()


def test_a_handful_of_rows_is_no_evidence_of_a_leak():
    result = I.plan(table(x=[1.0, 2.0, 3.0], y=[0, 1, 1]), "y", [""])
    assert [f["name"] for f in result.features] == ["x"] and not result.suspects


def test_a_rare_positive_class_is_the_positive_and_judged_on_ranking_not_accuracy():
    outcome = (rng.random(4000) < 0.05).astype(int)  # 5% positives
    signal = outcome * 1.0 + rng.normal(size=4000)
    result = I.plan(table(signal=signal.tolist(), y=["bad" if o else "good" for o in outcome]), "y", [""])
    assert result.label["classes"] == ["good", "bad"] and result.label["positive"] == "bad"  # rarer, listed last
    assert result.evaluation["thresholds"] == [{"metric": "AUC", "lower_bound": I.RARE_CLASS_MIN_AUC,
                                                "change": {"direction": "higher_is_better", "absolute": -0.01}}]
    assert "AUCPrecisionRecall" in result.evaluation["metrics"]
    balanced = I.plan(table(signal=signal.tolist(), y=[["a", "b"][i % 2] for i in range(4000)]), "y", [""])
    assert balanced.evaluation["thresholds"][0]["metric"] == "BinaryAccuracy"
    assert balanced.label["classes"] == ["a", "b"] and balanced.label["positive"] == "b"  # about even: data order


def test_a_plain_row_counter_is_left_out_but_needs_no_pseudonym():
    data = table(row=list(range(1, 501)), x=noise(500), code=[f"c{i}" for i in range(500)],
                 y=[i % 2 for i in range(500)])
    result = I.plan(data, "y", [""])
    assert result.left_out["row"] == I.ID_REASON and result.left_out["code"] == I.ID_REASON
    assert "row" not in result.privacy and result.privacy["code"] == ("pseudonymize", "an ID")


def test_first_names_and_free_text_are_found_by_their_values_and_dropped():
    rows = 3000
    first = rng.choice(["Anna", "Peter", "Maria", "Luis", "Sophie", "Klaus", "Emma", "Jorge", "Olivia", "Hans"], rows)
    roles = [f"{rng.choice(['Senior', 'Junior', 'Lead', 'Chief'])} {rng.choice(['Data', 'Sales', 'Field', 'Web'])} "
             f"{rng.choice(['Engineer', 'Analyst', 'Manager'])} {i % 1700}" for i in range(rows)]
    island = rng.choice(["Biscoe", "Dream", "Torgersen"], rows)  # capitalised single words, not names
    data = table(who=first.tolist(), job=roles, island=island.tolist(), x=noise(rows), y=[i % 2 for i in range(rows)])
    result = I.plan(data, "y", [""])
    assert result.privacy["who"] == ("drop", "person names (most values are common given names)")
    assert result.privacy["job"] == ("drop", "free text (it may name or describe people)")
    assert "island" not in result.privacy and "island" in [f["name"] for f in result.features]


def test_columns_that_look_like_protected_attributes_are_sliced_on():
    rows = 1000
    data = table(credit_history=rng.choice(["good", "poor", "none"], rows).tolist(),
                 applicant_race=rng.choice(["a", "b", "c", "d"], rows).tolist(),
                 Sex=rng.choice(["f", "m"], rows).tolist(), x=noise(rows), y=[i % 2 for i in range(rows)])
    result = I.plan(data, "y", [""])
    assert result.evaluation["slices"] == [["applicant_race"], ["Sex"], ["credit_history"]]


def test_a_rare_class_is_found_whatever_type_the_label_column_has():
    outcome = (rng.random(1000) < 0.1).astype(int)
    for values in (outcome.tolist(), outcome.astype(float).tolist(), [bool(o) for o in outcome]):
        label = I.plan(table(x=noise(1000), y=values), "y", [""]).label
        assert str(label["positive"]) in ("1", "True") and label["classes"][-1] == label["positive"], (values[:3], label)
