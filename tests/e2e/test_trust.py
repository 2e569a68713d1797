"""A new user's loans table, init to predict: 7% of loans default (the rarer class becomes the positive and
the threshold is one a model can reach), a balance recorded after the outcome carries most of the signal
(init asks whether it is known before the outcome, the run's summary names it with its attribution share),
a first-name column is dropped by its values, and every run shows the model beside the reference model and
the trivial one. Predictions join back on the loan IDs as the input has them."""
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from pyarrow import csv as pa_csv

from helpers import init_and_run, mlops, summary_of

ROWS = 2400


def loans(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.5, 0.4, rows).round(0)
    amount = rng.uniform(1_000, 20_000, rows).round(0)
    risk = amount / income * 4 + rng.normal(scale=2, size=rows)
    default = (risk > np.quantile(risk, 0.93)).astype(int)
    return pd.DataFrame({
        "loan_id": [f"L-{seed}-{i:06d}" for i in range(rows)],
        "first_name": rng.choice(["Anna", "Peter", "Maria", "Luis", "Emma", "Jorge", "Olivia", "Hans"], rows),
        "income": income, "amount": amount, "term": rng.choice([12, 24, 36], rows),
        # Recorded after the outcome: what was still owed when the loan ended (noisy: no single-column rule sees it).
        "balance_after": np.round(default * amount * rng.uniform(0.3, 0.9, rows) + rng.normal(0, 3000, rows), 0),
        "status": np.where(default == 1, "bad", "good")})


@pytest.fixture(scope="module")
def trust(tmp_path_factory):
    work = tmp_path_factory.mktemp("trust")
    config, _, init, run = init_and_run(work, loans(ROWS, seed=1), "loans", "status", "--set", "model.train_steps=300",
                                        "--set", "infra_validation.platform=local_process")
    return work, config, init, run


def test_init_names_the_post_outcome_column_and_the_rare_positive_and_drops_first_names(trust):
    _, config, init, _ = trust
    printed = init.stdout
    assert re.search(r"SUSPECT balance_after: .*it carries most of the signal \(reference skill 0\.\d+ with, "
                     r"-?0\.\d+ without\): is it known before the outcome\?", printed), printed
    assert "privacy first_name: person names (most values are common given names) -> drop" in printed
    assert "reference model (gradient-boosted trees" in printed
    raw = yaml.safe_load(config.read_text())
    assert raw["label"]["classes"] == ["good", "bad"] and raw["label"]["positive"] == "bad"
    assert raw["evaluation"]["thresholds"][0]["metric"] == "AUC" and "balance_after" in raw["evaluation"]["suspects"]


def test_the_run_meets_a_reachable_threshold_and_shows_model_reference_trivial_and_the_suspect(trust):
    _, config, _, run = trust
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    summary = summary_of(config)
    assert summary.blessed is True and summary.outcome == "pushed"
    assert summary.metrics["overall"]["auc"] > 0.6 > summary.reference["trivial"]["auc"]  # beats the trivial model
    printed = run.stdout
    assert "Evaluation (eval split; positive class: bad):" in printed
    for row in ("model", r"reference \(gradient-boosted trees\)", r"trivial \(commonest class\)"):
        assert re.search(rf"^  {row} +", printed, re.M), printed
    assert re.search(r"^  balance_after: \d+% of the model's attribution; ", printed, re.M), printed


def test_predictions_join_back_on_the_loans_own_ids(trust, tmp_path):
    work, config, _, _ = trust
    new = loans(50, seed=2).drop(columns=["status"])
    new.to_csv(tmp_path / "new.csv", index=False)
    result = mlops("predict", config, tmp_path / "new.csv", "-o", tmp_path / "scored.csv")
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "scores are the probability of the positive class: bad" in result.stdout
    scored = pa_csv.read_csv(tmp_path / "scored.csv")
    assert sorted(scored.column("loan_id").to_pylist()) == sorted(new["loan_id"])
    # Under the output root the IDs stay pseudonyms.
    assert not any(b"L-2-000001" in path.read_bytes() for path in (work / "outputs").rglob("*") if path.is_file())
