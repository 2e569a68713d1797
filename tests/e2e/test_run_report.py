"""The run report of real runs of the shared taxi history, opened in a real browser (headless Chromium):
each section rendered, its numbers equal to what ML Metadata and the run's artifacts hold, nothing
fetched, a screenshot that is not blank."""
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from helpers import importance_of, mlops, reader_of

BROWSER = os.environ.get("MLOPS_TEST_BROWSER") or shutil.which("chromium")
pytestmark = pytest.mark.skipif(not BROWSER, reason="no Chromium: `make test` installs Debian's (MLOPS_TEST_BROWSER)")
SECTIONS = ["run", "timeline", "data", "model", "reference", "explanations", "fairness", "infra", "lineage"]


def chromium(*args) -> subprocess.CompletedProcess:
    # --no-sandbox: the tests may run as root; no network is needed or wanted.
    return subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--proxy-server=127.0.0.1:9", *args],
                          capture_output=True, text=True, timeout=120)


class RenderedPage(HTMLParser):
    """The DOM Chromium serialized: section ids, and the text of every element with a data-* attribute."""

    def __init__(self, html: str):
        super().__init__()
        self.sections, self.data, self._open, self.html = [], [], [], html
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs.get("id"))
        tagged = {k: v for k, v in attrs.items() if k.startswith("data-")} | (
            {"id": attrs["id"]} if attrs.get("id") in ("outcome", "blessed", "infra-verdict") else {})
        self._open.append((tag, tagged, []))

    def handle_data(self, data):
        for _, _, texts in self._open:
            texts.append(data)

    def handle_endtag(self, tag):
        while self._open:
            open_tag, tagged, texts = self._open.pop()
            if tagged:
                self.data.append((tagged, "".join(texts).strip()))
            if open_tag == tag:
                break

    def text_of(self, **attrs) -> list[str]:
        return [text for tagged, text in self.data if all(tagged.get(k.replace("_", "-")) == v for k, v in attrs.items())]


def report_path(step) -> Path:
    match = re.search(r"^Report: (\S+\.html)$", step.result.stdout, re.M)
    assert match, step.result.stdout[-2000:]
    return Path(match.group(1))


def rendered(path: Path) -> RenderedPage:
    result = chromium("--dump-dom", path.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    return RenderedPage(result.stdout)


def test_the_report_of_a_run_with_a_baseline_shows_what_mlmd_recorded(taxi, first_run, new_contract_run, tmp_path):
    from tensorflow_metadata.proto.v0 import statistics_pb2

    from pipelines.metadata import evaluation
    from pipelines.metadata.runs import read_run_summary
    from pipelines.report.charts import number_text
    from pipelines.shared.artifact_files import STATISTICS_FILE, per_split

    path = report_path(new_contract_run)
    assert path == taxi.work / "out" / "reports" / f"{new_contract_run.run_id.replace(':', '-')}.html"
    html = path.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html) and "http://" not in html \
        and "https://" not in html  # nothing to fetch, from anywhere
    page = rendered(path)
    assert page.sections == SECTIONS

    reader = reader_of(taxi.config)
    summary = read_run_summary(reader, new_contract_run.run_id)
    assert page.text_of(id="outcome") == [summary.outcome] == ["pushed"]
    assert page.text_of(id="blessed") == ["yes"] and page.text_of(id="infra-verdict") == ["passed"]
    # Every metric of every slice, for the candidate, the baseline (the model pushed before) and the change.
    table = evaluation.read_metric_table(summary.output("Evaluator", "evaluation").uri)
    assert {"candidate", "baseline", "change"} <= set(table["overall"]["binary_accuracy"])
    for slice_name, metrics in table.items():
        for metric, models in metrics.items():
            for model, value in models.items():
                assert page.text_of(data_metric=metric, data_slice=slice_name, data_model=model) == [
                    number_text(value)], (slice_name, metric, model)
    assert page.text_of(data_verdict="binary_accuracy:value") == ["met"]
    assert page.text_of(data_verdict="binary_accuracy:change") == ["met"]
    matrix = evaluation.read_confusion_matrices(summary.output("Evaluator", "evaluation").uri)["overall"][0.5]
    assert {name: page.text_of(data_confusion=f"0.5:{name}") for name in matrix} == {
        name: [f"{value:.0f}"] for name, value in matrix.items()}
    assert sum(matrix.values()) == table["overall"]["example_count"]["candidate"]
    calibration = evaluation.read_calibration(summary.output("Evaluator", "evaluation").uri)["overall"]
    assert 0 < sum(count for _, _, count, _, _ in calibration) <= table["overall"]["example_count"]["candidate"]
    assert "Calibration (overall)" in page.html
    # Example counts as StatisticsGen recorded them.
    statistics = summary.output("StatisticsGen", "statistics").uri
    for split, proto in per_split(statistics, STATISTICS_FILE, statistics_pb2.DatasetFeatureStatisticsList):
        assert page.text_of(data_examples=split) == [str(proto.datasets[0].num_examples)]
    assert len(page.text_of(data_feature="fare")) == 1 and len(page.text_of(data_feature="company")) == 1
    # Each column's part: a feature, the label's source, or left out (the taxi config does not use it).
    assert page.text_of(data_role="feature") and page.text_of(data_role="label") == ["label: big_tipper is computed from it"]
    assert "left out: not among the config's features" in page.text_of(data_role="left-out")
    # Against the reference model (gradient-boosted trees) and the trivial one, as the ReferenceModel recorded them.
    for who, values in (("reference", summary.reference["reference"]), ("trivial", summary.reference["trivial"])):
        assert page.text_of(data_reference=f"{who}:auc") == [number_text(values["auc"])]
    assert page.text_of(data_reference="model:auc") == [number_text(table["overall"]["auc"]["candidate"])]
    # What the model relies on: the recorded importance, ranked, with partial dependence of the top features.
    found = importance_of(taxi.config, new_contract_run.run_id)
    shown = [tagged["data-importance"] for tagged, _ in page.data if "data-importance" in tagged]
    assert shown == list(found["importance"])
    assert [tagged["data-dependence"] for tagged, _ in page.data if "data-dependence" in tagged] == [
        curve["feature"] for curve in found["partial_dependence"]] and found["partial_dependence"]
    # Beside them, the data the baseline (the first run's model) was trained on, found through the lineage.
    from pipelines.metadata.lineage import training_statistics

    baseline = reader.inputs_of(next(e.id for e in reader.run_executions(new_contract_run.run_id)
                                     if reader.node_name(e) == "Evaluator"))["baseline_model"][0]
    assert baseline.id == read_run_summary(reader, first_run.run_id).output("Trainer", "model").id
    theirs = training_statistics(reader, baseline.id)
    assert theirs.id == read_run_summary(reader, first_run.run_id).output("StatisticsGen", "statistics").id
    train = dict(per_split(theirs.uri, STATISTICS_FILE, statistics_pb2.DatasetFeatureStatisticsList))["train"]
    assert page.text_of(data_examples="baseline's train") == [str(train.datasets[0].num_examples)]
    # Lineage from the CSV's examples to the pushed model, as MLMD's events link them.
    pushed = summary.output("Pusher", "pushed_model")
    assert page.text_of(data_node=f"a{pushed.id}") == [f"PushedModel {pushed.id}"]
    assert page.text_of(data_node=f"a{summary.output('CsvExampleGen', 'examples').id}")

    screenshot = tmp_path / "report.png"
    result = chromium(f"--screenshot={screenshot}", "--window-size=1200,1600", path.as_uri())
    assert result.returncode == 0 and screenshot.exists(), result.stderr[-2000:]
    from PIL import Image

    colours = Image.open(screenshot).convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 20  # text, bars and histograms, not a blank page


def test_a_failed_threshold_is_shown_as_failed(taxi, impossible_run):
    page = rendered(report_path(impossible_run))
    assert page.text_of(id="blessed") == ["no"]
    assert page.text_of(data_verdict="binary_accuracy:value") == ["FAILED"]


def test_mlops_report_writes_any_run_where_asked_and_refuses_an_unknown_one(taxi, first_run, tmp_path):
    out = tmp_path / "first.html"
    result = mlops("report", taxi.config, "--run", first_run.run_id, "-o", out)
    assert result.returncode == 0 and result.stdout.strip() == f"wrote {out}", result.stderr
    page = rendered(out)
    assert page.sections == SECTIONS and page.text_of(id="outcome") == ["pushed"]
    unknown = mlops("report", taxi.config, "--run", "no-such-run")
    assert unknown.returncode == 1 and "no run 'no-such-run'" in unknown.stderr and "Traceback" not in unknown.stderr


def test_two_runs_compared_side_by_side_in_text_and_html(taxi, first_run, new_contract_run, tmp_path):
    from pipelines.metadata.runs import read_run_summary
    from pipelines.report.charts import number_text

    result = mlops("runs", taxi.config, "--compare", first_run.run_id, new_contract_run.run_id)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    # The settings that changed between the two, as each component was given them.
    assert re.search(r"InfraValidator: request_spec.num_examples\n\s+A: 10\n\s+B: 5\n", text), text
    assert re.search(r"ImportSchemaGen: schema_sha256\n", text), text  # the schema changed in between
    assert "CsvExampleGen" not in text  # from cache in B: the same settings, though B recorded fewer
    assert re.search(r"pushed as\s+1\.0\.0\s+2\.0\.0\n", text), text
    reader = reader_of(taxi.config)
    before = read_run_summary(reader, first_run.run_id).metrics["overall"]["binary_accuracy"]
    after = read_run_summary(reader, new_contract_run.run_id).metrics["overall"]["binary_accuracy"]
    assert re.search(rf"overall\s+binary_accuracy\s+{re.escape(number_text(before))}\s+"
                     rf"{re.escape(number_text(after))}\s+{re.escape(f'{after - before:+.4g}')}\n", text), text
    # How feature importance moved: B's most important feature that A also had, with its rank and importance in
    # each run; the input only B has (it may well be B's top one), with none in A.
    from pipelines.shared.importance import ranking

    importance_a = importance_of(taxi.config, first_run.run_id)["importance"]
    importance_b = importance_of(taxi.config, new_contract_run.run_id)["importance"]
    ranked_b = ranking(importance_b)
    shared = next(name for name in ranked_b if name in importance_a)
    assert "Feature importance (mean |attribution|), in B's order; nDCG@5 of B against A" in text, text
    assert re.search(rf"\n  {shared}\s+\d+\s+{ranked_b.index(shared) + 1}\s+"
                     rf"{re.escape(number_text(importance_a[shared]))}\s+{re.escape(number_text(importance_b[shared]))}\s",
                     text), text
    assert re.search(rf"\n  dropoff_census_tract\s+-\s+{ranked_b.index('dropoff_census_tract') + 1}\s+n/a\s", text), text

    out = tmp_path / "compare.html"
    result = mlops("runs", taxi.config, "--compare", first_run.run_id, new_contract_run.run_id, "--html", out)
    assert result.returncode == 0 and result.stdout.strip() == f"wrote {out}", result.stderr
    page = rendered(out)
    assert page.sections == ["runs", "settings", "metrics", "importance"]
    assert page.text_of(data_diff="overall:binary_accuracy") == [f"{after - before:+.4g}"]
