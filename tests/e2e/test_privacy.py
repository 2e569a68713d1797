"""Privacy end to end: `mlops init` proposes the privacy section for a table with names, e-mails and customer
IDs; runs over two spans push models with no raw personal value in any file under the output root; `mlops
forget` lists exactly what held a customer's rows and `--retrain` pushes a model without them.

One history, built once for the module: span 1 (run 1, version 1), span 2 (run 2, version 2, trained on span 2
alone), a forget request for a span-1 customer, a forget request for a span-2 customer with --retrain (run 3),
and `mlops predict` on span 2.
"""
import gzip
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from helpers import mlops, reader_of, summary_of, versions

KEY = {"MLOPS_PSEUDONYM_KEY": "a-test-key-that-is-long-enough-0123456789"}
FIRST = ["Annika", "Bernhard", "Cornelia", "Dietrich", "Evelyn", "Friedrich", "Gertrud", "Heinrich", "Isolde", "Joachim"]
LAST = ["Schmidtmann", "Meyerhoff", "Weberling", "Fischbach", "Wagenknecht", "Beckmann", "Hoffstetter", "Kochendorf"]
FORGOTTEN_IN_SPAN_1, FORGOTTEN_IN_SPAN_2 = "CUST-0001003", "CUST-0002005"


def customers(first_id: int, rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = [f"CUST-{first_id + i:07d}" for i in range(rows)]
    first, last = rng.choice(FIRST, rows), rng.choice(LAST, rows)
    visits = rng.poisson(3, rows)
    return pd.DataFrame({
        "customer_id": ids,
        "name": [f"{f} {s}" for f, s in zip(first, last)],
        "email": [f"{f.lower()}.{s.lower()}.{i[-4:]}@mail-example.org" for f, s, i in zip(first, last, ids)],
        "age": rng.integers(18, 80, rows), "income": np.round(rng.normal(50_000, 12_000, rows), 2),
        "visits": visits, "plan": rng.choice(["basic", "plus", "pro"], rows),
        "churned": ((visits < 2) ^ (rng.random(rows) < 0.1)).astype(int),
    })


@dataclass
class History:
    work: Path
    config: Path
    tables: list          # span 1's and span 2's rows
    init: object
    runs: list            # (mlops run result, run id, serving folders after it)
    forget_span_1: object
    forget_span_2: object
    predict: object

    @property
    def output_root(self) -> Path:
        return self.work / "out"


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> History:
    work = tmp_path_factory.mktemp("privacy")
    tables = [customers(1000, 400, seed=1), customers(2000, 400, seed=2)]
    span_file = work / "data" / "span-1" / "customers.csv"
    span_file.parent.mkdir(parents=True)
    tables[0].to_csv(span_file, index=False)
    init = mlops("init", span_file, "--label=churned", "--project", work)
    assert init.returncode == 0, init.stdout + init.stderr[-3000:]
    config = work / "configs" / "customers.yaml"
    raw = yaml.safe_load(config.read_text())
    raw["data"].update(path=str(work / "data"), pattern="span-{SPAN}/*.csv")
    raw.update(output_root=str(work / "out"), infra_validation={"platform": "local_process"},
               model={"train_steps": 40, "eval_steps": 5})
    # Thresholds any model meets, so that every run pushes: the history is about what held which rows.
    raw["evaluation"]["thresholds"] = [{"metric": "BinaryAccuracy", "lower_bound": 0.0,
                                        "change": {"direction": "higher_is_better", "absolute": -1.0}}]
    config.write_text(config.read_text().split("\nname:")[0] + "\n" + yaml.safe_dump(raw))

    def run(*args):
        result = mlops("run", config, *args, env=KEY)
        assert result.returncode == 0, result.stdout + result.stderr[-3000:]
        return result, reader_of(config).latest_run_id(), versions(work / "out" / "serving_model")

    runs = [run()]
    (work / "data" / "span-2").mkdir()
    tables[1].to_csv(work / "data" / "span-2" / "customers.csv", index=False)
    runs.append(run())
    forget_span_1 = mlops("forget", config, "--id", FORGOTTEN_IN_SPAN_1, env=KEY)
    forget_span_2 = mlops("forget", config, "--id", FORGOTTEN_IN_SPAN_2, "--retrain", env=KEY)
    runs.append((forget_span_2, reader_of(config).latest_run_id(), versions(work / "out" / "serving_model")))
    predict = mlops("predict", config, work / "data" / "span-2" / "customers.csv", "-o", work / "scored.csv",
                    env=KEY)
    return History(work, config, tables, init, runs, forget_span_1, forget_span_2, predict)


def test_init_proposes_pseudonyms_for_ids_and_e_mails_and_drops_names(history):
    privacy = yaml.safe_load(history.config.read_text())["privacy"]
    assert privacy["pseudonymize"] == ["customer_id", "email"] and privacy["drop"] == ["name"]
    assert "e-mail addresses -> pseudonymize" in history.init.stdout and "person names -> drop" in history.init.stdout
    assert "export MLOPS_PSEUDONYM_KEY" in history.init.stdout


def file_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":  # gzipped TFRecords: their records are what must be clean
        data = gzip.decompress(data)
    return data


def test_no_raw_personal_value_in_any_file_under_the_output_root(history):
    raw = {value.encode() for table in history.tables
           for column in ("customer_id", "name", "email") for value in table[column]}
    files = [Path(d) / f for d, _, names in os.walk(history.output_root) for f in names]
    kinds = {p.suffix for p in files}
    assert {".gz", ".pb", ".html", ".log", ".sqlite"} <= kinds  # examples, statistics, report, logs, ...
    leaks = {str(p): sorted(v.decode() for v in raw if v in file_bytes(p))[:3] for p in files}
    assert {p: v for p, v in leaks.items() if v} == {}
    summary = history.runs[0][0].stdout
    assert "Privacy: pseudonymised customer_id, email; dropped name" in summary


def test_predictions_join_back_on_the_inputs_own_ids_while_the_index_holds_their_pseudonyms(history, monkeypatch):
    from pipelines.config import load_config
    from pipelines.shared import pseudonyms

    assert history.predict.returncode == 0, history.predict.stdout + history.predict.stderr[-3000:]
    monkeypatch.setenv(*next(iter(KEY.items())))
    key = load_config(history.config).pseudonym_key()
    # The output file is the user's, outside the output root: the IDs as the input had them, in its order.
    scored = pd.read_csv(history.work / "scored.csv", dtype={"customer_id": str})
    assert sorted(scored["customer_id"]) == sorted(history.tables[1]["customer_id"].astype(str))
    # Under the output root (checked above for raw values), the scored examples hold the same pseudonyms as the index.
    expected = pseudonyms.pseudonyms(key, list(history.tables[1]["customer_id"]))
    inference = history.output_root / "pipeline_root" / "InferenceExampleGen" / "examples"
    scored_examples = b"".join(file_bytes(p) for p in inference.rglob("*.gz"))
    assert all(p.encode() in scored_examples for p in expected[:20])
    index = history.output_root / "pipeline_root" / "CsvExampleGen" / "examples"
    span_2 = {line for path in index.glob(f"*/{pseudonyms.INDEX_DIR}/span-2.txt") for line in path.read_text().split()}
    assert set(expected) - {pseudonyms.pseudonym(key, FORGOTTEN_IN_SPAN_2)} <= span_2


def versions_named(text: str) -> list[str]:
    line = next(line for line in text.splitlines() if "pushed versions trained on them" in line)
    return [v.split(" ")[0] for v in line.split(": ", 1)[1].split(", ")]


def test_forget_lists_exactly_the_versions_trained_on_the_span_that_held_the_rows(history):
    first = history.forget_span_1
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    assert versions_named(first.stdout) == ["1.0.0"]  # version 2 was trained on span 2 alone
    assert "found in Examples" in first.stdout and "(span 1)" in first.stdout
    from pipelines.metadata import privacy

    reader = reader_of(history.config)
    [request, _] = privacy.forget_requests(reader)
    recorded = request.properties["pseudonyms"].string_value
    assert FORGOTTEN_IN_SPAN_1 not in recorded and len(json.loads(recorded)) == 1  # the pseudonym, not the ID
    lineage = mlops("lineage", history.config, "--model", "1.0.0")
    assert f"mlops.ForgetRequest (execution {request.id})" in lineage.stdout


def test_retrain_leaves_the_rows_out_is_not_cached_and_is_recorded_free_of_them(history):
    result, run_id, served = history.runs[2]
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert versions_named(result.stdout) == ["1.1.0"]
    summary = summary_of(history.config, run_id)
    assert summary.component("CsvExampleGen").state == "complete"  # the forget request changed its cache key
    assert summary.privacy["forgotten_rows"] == 1 and summary.privacy["forgotten_ids"] == 2
    assert summary.pushed_path and not summary.forgotten_by and len(served) == 3
    models = mlops("models", history.config).stdout
    holding = [re.search(r"\d+\.\d+\.\d+", line).group(0) for line in models.splitlines() if "HOLDS FORGOTTEN" in line]
    assert holding == ["1.0.0", "1.1.0"]  # the new version, 1.2.0, holds none
    examples = history.output_root / "pipeline_root" / "CsvExampleGen" / "examples"
    first_run_examples = sorted(examples.iterdir(), key=lambda p: int(p.name))[0]
    assert [p.name for p in first_run_examples.iterdir()] == ["pseudonym_index"]  # the rows' files are gone
