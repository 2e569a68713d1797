"""The reference model's plain logic: scores under TFMA's names, the trivial model, skill on one scale, the
drop-column search for the columns that carry the signal, and the Pusher's gap check."""
import math

import numpy as np
import pytest

from components.atomic_pusher.publishing import reference_gap_reason
from pipelines.metadata.reference import reference_lines
from pipelines.shared import reference_model as R


def columns(**values) -> R.Columns:
    return R.Columns({k: np.asarray(v, dtype=object if isinstance(v[0], str) or v[0] is None else float)
                      for k, v in values.items()})


def test_skill_is_zero_for_the_trivial_model_one_for_a_perfect_one_on_every_kind_of_metric():
    assert R.skill(0.5, 0.5, "auc") == 0 and R.skill(1.0, 0.5, "auc") == 1
    assert R.skill(0.75, 0.5, "auc") == pytest.approx(0.5)
    assert R.skill(0.0, 2.0, "mean_absolute_error") == 1 and R.skill(1.0, 2.0, "mean_absolute_error") == 0.5
    assert R.skill(3.0, 2.0, "mean_absolute_error") == -0.5  # worse than the median
    assert R.skill(0.95, 0.9, "sparse_categorical_accuracy") == pytest.approx(0.5)
    assert R.skill(math.nan, 0.5, "auc") is None and R.skill(0.9, 1.0, "binary_accuracy") is None


def test_the_trivial_model_answers_the_training_shares_and_median():
    y_train, y_eval = np.array([0, 0, 0, 1]), np.array([0, 1, 0, 0, 1])
    trivial = R.trivial_scores(y_train, y_eval, R.BINARY)
    assert trivial["auc"] == 0.5 and trivial["binary_accuracy"] == pytest.approx(0.6)  # always "no"
    assert trivial["auc_precision_recall"] == pytest.approx(0.4)  # the positive share: chance level
    regression = R.trivial_scores(np.array([1.0, 2.0, 10.0]), np.array([2.0, 4.0]), R.REGRESSION)
    assert regression["mean_absolute_error"] == pytest.approx(1.0)  # |2-2| and |4-2| around the median
    assert regression["mean_squared_error"] == pytest.approx(((2 - 13 / 3) ** 2 + (4 - 13 / 3) ** 2) / 2)  # the mean
    multiclass = R.trivial_scores(np.array([2, 2, 1]), np.array([2, 0, 2, 1]), R.MULTICLASS, classes=3)
    assert multiclass["sparse_categorical_accuracy"] == pytest.approx(0.5)


def frame(rows: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    colour = rng.choice(["red", "green", "blue"], size=rows)
    noise = rng.normal(size=rows)
    y = ((x + (colour == "red") * 1.5 + rng.normal(scale=0.5, size=rows)) > 0.5).astype(int)
    return columns(x=x, colour=list(colour), noise=noise), y


def test_the_reference_learns_numbers_and_text_categories_and_scores_held_out_rows():
    train, y_train = frame(2000, seed=1)
    evaluation, y_eval = frame(1000, seed=2)
    fitted = R.train_and_score(train, y_train, evaluation, y_eval, ["x", "colour", "noise"], R.BINARY)
    assert fitted.encoding.categorical_mask == [False, True, False]
    assert fitted.metrics["auc"] > 0.9 and fitted.trivial["auc"] == 0.5
    assert 0.8 < fitted.skill < 1
    without_signal = R.train_and_score(train, y_train, evaluation, y_eval, ["noise"], R.BINARY)
    assert abs(without_signal.skill) < 0.15  # noise alone is no better than the trivial model


def test_values_unseen_in_training_and_rare_categories_are_coded_as_missing_or_other():
    many = [f"v{i}" for i in range(300)] + ["v0"] * 10
    coding = R.encoding(columns(c=many, n=[float(i) for i in range(len(many))]), ["c", "n"])
    assert len(coding.categories["c"]) == R.MAX_CATEGORIES - 1 and coding.categories["c"]["v0"] == 0
    matrix = coding.matrix(columns(c=["v0", "never-seen", None], n=[1.0, 2.0, float("nan")]))
    assert matrix[0, 0] == 0 and matrix[1, 0] == R.MAX_CATEGORIES - 1 and math.isnan(matrix[2, 0])
    assert math.isnan(matrix[2, 1])
    few = R.encoding(columns(c=["a", "b", "a"]), ["c"]).matrix(columns(c=["z"]))
    assert math.isnan(few[0, 0])  # with few categories an unseen value is simply missing


def choice_table(rows: int, seed: int, with_chosen: bool = True):
    """Four alternatives with a price each, the label the one chosen (a noisy preference for the cheapest), and
    `chosen_price`: the price of the alternative that was chosen. No column alone gives the label away; the
    chosen price together with the four prices does, exactly."""
    rng = np.random.default_rng(seed)
    prices = rng.uniform(1, 100, size=(rows, 4)).round(2)
    utility = -prices / 30 + rng.gumbel(size=(rows, 4))
    chosen = utility.argmax(axis=1)
    values = {f"price_{a}": prices[:, i] for i, a in enumerate("abcd")}
    if with_chosen:
        values["chosen_price"] = prices[np.arange(rows), chosen]
    return R.Columns(values), chosen


def test_a_leak_that_takes_two_columns_is_found_by_dropping_columns():
    train, y_train = choice_table(3000, seed=3)
    evaluation, y_eval = choice_table(1500, seed=4)
    names = list(train.values)

    def skill_without(dropped):
        kept = [n for n in names if n not in dropped]
        return R.train_and_score(train, y_train, evaluation, y_eval, kept, R.MULTICLASS, classes=4).skill

    everything = skill_without([])
    assert everything > 0.8  # the chosen price matches exactly one of the four
    found = R.carriers(skill_without, names, everything, below=0.5)
    assert found is not None and found.columns == ["chosen_price"]
    assert found.skill_with == everything and found.skill_without < 0.5


def test_without_a_carrier_the_search_finds_none():
    train, y_train = frame(1000, seed=5)
    evaluation, y_eval = frame(500, seed=6)

    def skill_without(dropped):
        return R.train_and_score(train, y_train, evaluation, y_eval, ["noise"], R.BINARY).skill

    assert R.carriers(skill_without, ["noise"], skill_without([]), below=-0.5) is None


def test_redundant_carriers_are_found_together_though_each_alone_costs_little():
    rng = np.random.default_rng(7)
    rows = 3000
    signal = rng.normal(size=rows)
    y = (signal > 0).astype(int)
    # Two copies of the answer (a balance and the payments made, say) and an honest weak feature.
    values = {"balance": signal + rng.normal(scale=0.01, size=rows), "paid": -signal * 3,
              "weak": signal + rng.normal(scale=3, size=rows)}
    split = rows * 2 // 3
    train, evaluation = R.Columns({k: v[:split] for k, v in values.items()}), R.Columns({k: v[split:] for k, v in values.items()})

    def skill_without(dropped):
        kept = [n for n in values if n not in dropped]
        return R.train_and_score(train, y[:split], evaluation, y[split:], kept, R.BINARY).skill

    assert skill_without(["balance"]) > 0.95 and skill_without(["paid"]) > 0.95  # each alone: no loss
    found = R.carriers(skill_without, ["balance", "paid", "weak"], skill_without([]), below=0.5)
    assert found is not None and sorted(found.columns) == ["balance", "paid"] and found.skill_without < 0.5


SUMMARY = {"head": "binary", "description": R.DESCRIPTION, "reference": {"auc": 0.9, "binary_accuracy": 0.85},
           "trivial": {"auc": 0.5, "binary_accuracy": 0.7}, "skill": 0.8, "max_gap": 0.1, "on_gap": "stop"}


def test_the_gap_is_measured_in_skill_and_holds_back_a_model_only_with_on_gap_stop():
    assert R.gap({"auc": 0.8, "binary_accuracy": 0.8}, SUMMARY) == ("auc", pytest.approx(0.6), pytest.approx(0.8),
                                                                    pytest.approx(0.2))
    reason = reference_gap_reason({"auc": 0.8}, SUMMARY)
    assert "0.200 short of the reference model's (0.800)" in reason and "max_gap is 0.1" in reason
    assert reference_gap_reason({"auc": 0.86}, SUMMARY) == ""  # 0.08 short: within max_gap
    assert reference_gap_reason({"auc": 0.8}, {**SUMMARY, "on_gap": "warn"}) == ""
    assert reference_gap_reason({"auc": 0.8}, {**SUMMARY, "max_gap": None}) == ""


def test_the_summary_shows_model_reference_and_trivial_with_their_skill():
    lines = reference_lines({"auc": 0.8, "binary_accuracy": 0.8, "example_count": 100}, {**SUMMARY, "on_gap": "warn"})
    text = "\n".join(lines)
    assert "skill on auc" in text
    model, reference, trivial = (next(line for line in lines if line.startswith(f"  {row}"))
                                 for row in ("model", "reference (gradient-boosted trees)", "trivial (commonest class)"))
    assert model.split()[1:] == ["0.8", "0.8", "0.6"] and trivial.split()[-3:] == ["0.5", "0.7", "0"]
    assert reference.split()[-3:] == ["0.9", "0.85", "0.8"]
    assert "the model reaches 75% of the reference's skill (short by 0.200)" in text
    assert "Short of the reference by more than evaluation.reference.max_gap (0.1): check its features" in text
    assert reference_lines({"auc": 0.8}, {**SUMMARY, "reference": {}, "error": "ValueError: x"})[1] == (
        "Against a reference: none (the reference model could not be fitted: ValueError: x)")


def test_mlops_models_shows_each_versions_skill_beside_its_reference():
    from pipelines.metadata.registry import ModelVersion, format_versions

    versions = [ModelVersion("1.0.0", 1, 2, 0.0, "/serving/1", metrics={"auc": 0.8}, labels=["stable"],
                             reference=SUMMARY),
                ModelVersion("1.1.0", 3, 4, 0.0, "/serving/2", metrics={"auc": 0.9})]  # pushed before references
    lines = format_versions("p", versions).splitlines()
    assert lines[2].rstrip().endswith("skill  reference skill  serving path")
    first = next(line for line in lines if line.startswith("* 1.0.0"))
    assert first.split()[5:8] == ["0.8", "0.6", "0.8"]  # auc, the model's skill, the reference's
    second = next(line for line in lines if "1.1.0" in line)
    assert second.split()[4:7] == ["0.9", "-", "-"]


def test_the_reference_learns_the_label_the_trainer_learns(project):
    from components.reference_model.component import label_values
    from pipelines.config import load_config

    threshold = load_config(project / "configs" / "taxi.yaml").label  # tips > 0.2 * fare
    assert list(label_values(threshold, columns(tips=[1.0, 3.0, float("nan")], fare=[10.0, 10.0, 10.0]))) == [0, 1, 0]
    penguins = load_config(project / "configs" / "penguin.yaml").label
    species = [str(c) for c in penguins.classes]
    assert list(label_values(penguins, columns(species=species[::-1]))) == list(range(len(species)))[::-1]
