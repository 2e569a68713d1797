"""Two runs side by side (`mlops runs --compare A B`): what each component was given (its execution
properties, as ML Metadata recorded them, the config's parts and the hyperparameters among them), the
data each read, the metrics per slice with their differences, and which run's model is served."""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from html import escape
from typing import Any, Optional

from pipelines.metadata import registry, runs
from pipelines.metadata.reader import MetadataReader, plain_value
from pipelines.report import charts
from pipelines.report.content import artifact_facts
from pipelines.report.data_views import feature_views
from pipelines.shared import component_ids as ids
from pipelines.shared import importance


@dataclass
class RunSide:
    run_id: str
    outcome: str
    span: Optional[int] = None
    examples: dict[str, int] = field(default_factory=dict)           # split -> examples
    settings: dict[str, str] = field(default_factory=dict)          # "Trainer: custom_config.config.model.hidden_units" -> value
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # slice -> metric -> candidate's value
    pushed_version: Optional[str] = None
    served: bool = False
    cached: set[str] = field(default_factory=set)                  # components this run took from cache
    importance: dict[str, float] = field(default_factory=dict)      # feature -> mean |attribution| (FeatureImportance)
    nodes: set[str] = field(default_factory=set)                    # the components this run had
    reference: dict[str, float] = field(default_factory=dict)       # the reference model's metrics (ReferenceModel)


@dataclass
class Comparison:
    a: RunSide
    b: RunSide

    @property
    def changed_settings(self) -> list[tuple[str, Optional[str], Optional[str]]]:
        """Settings that differ, of the components both runs had (one run's other components are
        `only_in_one`). A setting one side did not record because that side's component came from cache is
        not a difference: a cache hit means the same settings (TFX records some only when it runs)."""
        keys = sorted(set(self.a.settings) | set(self.b.settings))
        changed = []
        for key in keys:
            a, b = self.a.settings.get(key), self.b.settings.get(key)
            node = key.split(":", 1)[0]
            if node not in self.a.nodes or node not in self.b.nodes:
                continue
            if a != b and not ((a is None and node in self.a.cached) or (b is None and node in self.b.cached)):
                changed.append((key, a, b))
        return changed

    @property
    def only_in_one(self) -> tuple[list[str], list[str]]:
        """(components only run A had, only run B had)."""
        return sorted(self.a.nodes - self.b.nodes), sorted(self.b.nodes - self.a.nodes)

    def importance_rows(self) -> list[tuple[str, Optional[int], Optional[int], Optional[float], Optional[float]]]:
        """(feature, rank in A, rank in B, importance in A, in B), in B's order, then features only A had."""
        rank_a = {name: i + 1 for i, name in enumerate(importance.ranking(self.a.importance))}
        rank_b = {name: i + 1 for i, name in enumerate(importance.ranking(self.b.importance))}
        names = list(rank_b) + [name for name in rank_a if name not in rank_b]
        return [(n, rank_a.get(n), rank_b.get(n), self.a.importance.get(n), self.b.importance.get(n)) for n in names]

    def metric_rows(self) -> list[tuple[str, str, Optional[float], Optional[float]]]:
        slices = sorted(set(self.a.metrics) | set(self.b.metrics), key=runs.slice_order)
        rows = [(s, m, self.a.metrics.get(s, {}).get(m), self.b.metrics.get(s, {}).get(m)) for s in slices
                for m in sorted(set(self.a.metrics.get(s, {})) | set(self.b.metrics.get(s, {})))]
        return rows + [(REFERENCE_ROW, m, self.a.reference.get(m), self.b.reference.get(m))
                       for m in sorted(set(self.a.reference) | set(self.b.reference))]


REFERENCE_ROW = "reference model (overall)"  # the metric table's row for what the reference model reached


def compare(reader: MetadataReader, run_a: str, run_b: str, serving_dir: Optional[str]) -> Comparison:
    """LookupError for an unknown run."""
    versions = registry.model_versions(reader, serving_dir, with_metrics=False)
    return Comparison(run_side(reader, run_a, versions), run_side(reader, run_b, versions))


def run_side(reader: MetadataReader, run_id: str, versions: list) -> RunSide:
    summary = runs.read_run_summary(reader, run_id)
    side = RunSide(run_id, summary.outcome, metrics=summary.metrics)
    examples = summary.output(ids.EXAMPLE_GEN, "examples")
    if examples is not None:
        side.span = artifact_facts(examples).get("span")
    statistics = summary.output(ids.STATISTICS_GEN, "statistics")
    if statistics is not None:
        views = feature_views(statistics.uri)
        side.examples = dict(views[0].examples) if views else {}
    side.cached = {c.node for c in summary.components if c.state == "cached"}
    side.importance = summary.importance
    side.nodes = {c.node for c in summary.components}
    side.reference = summary.reference.get("reference", {})
    for execution in reader.run_executions(run_id):
        node = reader.node_name(execution)
        for name, value in execution.custom_properties.items():
            if not name.startswith("__"):  # TFX's own bookkeeping
                for path, leaf in flatten(plain_value(value)).items():
                    side.settings[f"{node}: {name}{path}"] = leaf
    pushed = summary.output(ids.PUSHER, "pushed_model")
    if pushed is not None:
        version = next((v for v in versions if v.pushed_model_id == pushed.id), None)
        if version is not None:
            side.pushed_version, side.served = version.version, version.served
    return side


def flatten(value, path: str = "") -> dict[str, str]:
    """A property's leaves by dotted path; JSON inside strings (TFX's custom_config, eval_config) is opened."""
    if isinstance(value, str) and value[:1] in "{[":
        with contextlib.suppress(ValueError):  # text that only looks like JSON stays text
            value = json.loads(value)
    if isinstance(value, dict):
        return {k: v for key, item in sorted(value.items()) for k, v in flatten(item, f"{path}.{key}").items()}
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        return {k: v for i, item in enumerate(value) for k, v in flatten(item, f"{path}[{i}]").items()}
    return {path: json.dumps(value) if not isinstance(value, str) else value}


def format_comparison(c: Comparison) -> str:
    a, b = c.a, c.b
    width = max(len(a.run_id), len(b.run_id), 12)
    lines = [f"{'':<28} {'A':<{width}}  {'B':<{width}}",
             f"{'run':<28} {a.run_id:<{width}}  {b.run_id:<{width}}",
             f"{'outcome':<28} {a.outcome:<{width}}  {b.outcome:<{width}}",
             f"{'span':<28} {str(a.span):<{width}}  {str(b.span):<{width}}"]
    for split in sorted(set(a.examples) | set(b.examples)):
        lines.append(f"{split + ' examples':<28} {a.examples.get(split, '-')!s:<{width}}  "
                     f"{b.examples.get(split, '-')!s:<{width}}")
    lines.append(f"{'pushed as':<28} {a.pushed_version or '-':<{width}}  {b.pushed_version or '-':<{width}}")
    served = "A" if a.served else "B" if b.served else "neither"
    lines += [f"{'served now':<28} {served}", ""]
    changed = c.changed_settings
    only_a, only_b = c.only_in_one
    lines += [f"Components in one run only: {side} {', '.join(nodes)}" for side, nodes in (("A", only_a), ("B", only_b))
              if nodes]
    lines.append(f"Settings that differ ({len(changed)}):" if changed else "Settings: the same in both runs")
    for key, value_a, value_b in changed:
        lines.append(f"  {key}\n    A: {value_a if value_a is not None else '(not set)'}\n"
                     f"    B: {value_b if value_b is not None else '(not set)'}")
    rows = c.metric_rows()
    if rows:
        lines += ["", f"  {'slice':<28} {'metric':<26} {'A':>10} {'B':>10} {'B - A':>10}"]
        lines += [f"  {s:<28} {m:<26} {charts.number_text(va):>10} {charts.number_text(vb):>10} "
                  f"{charts.difference_text(vb, va):>10}" for s, m, va, vb in rows]
    ranked = c.importance_rows()
    if ranked:
        agreement = importance.ndcg(a.importance, b.importance) if a.importance and b.importance else None
        lines += ["", "Feature importance (mean |attribution|), in B's order"
                  + (f"; nDCG@{importance.TOP_K} of B against A {agreement:.3f}" if agreement is not None else ""),
                  f"  {'feature':<28} {'rank A':>6} {'rank B':>6} {'A':>10} {'B':>10} {'B - A':>10}"]
        lines += [f"  {n:<28} {ra or '-'!s:>6} {rb or '-'!s:>6} {charts.number_text(va):>10} {charts.number_text(vb):>10} "
                  f"{charts.difference_text(vb, va):>10}" for n, ra, rb, va, vb in ranked]
    return "\n".join(line.rstrip() for line in lines)


def render_comparison(c: Comparison) -> str:
    """The comparison as one self-contained HTML page (the run report's style)."""
    from pipelines.report.page import CSS, table

    a, b = c.a, c.b
    facts: list[list[Any]] = [["run", a.run_id, b.run_id], ["outcome", a.outcome, b.outcome], ["span", a.span, b.span]]
    facts += [[f"{split} examples", a.examples.get(split, "-"), b.examples.get(split, "-")]
              for split in sorted(set(a.examples) | set(b.examples))]
    facts += [["pushed as", a.pushed_version or "-", b.pushed_version or "-"],
              ["served now", "yes" if a.served else "no", "yes" if b.served else "no"]]
    settings = [[escape(k), escape(str(va)), escape(str(vb))] for k, va, vb in c.changed_settings]
    metrics = [[escape(s), escape(m), f'<span class="num">{charts.number_text(va)}</span>',
                f'<span class="num">{charts.number_text(vb)}</span>',
                f'<span class="num" data-diff="{escape(s)}:{escape(m)}">{charts.difference_text(vb, va)}</span>']
               for s, m, va, vb in c.metric_rows()]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
            f"<title>{escape(a.run_id)} against {escape(b.run_id)}</title><style>{CSS}</style></head><body>"
            f'<section id="runs"><h1>Run A against run B</h1>'
            + table(["", "A", "B"], [[escape(str(x)) for x in row] for row in facts]) + "</section>"
            + '<section id="settings"><h2>Settings that differ</h2>'
            + (table(["setting", "A", "B"], settings) if settings else "<p>None: both runs had the same.</p>")
            + '</section><section id="metrics"><h2>Metrics per slice</h2>'
            + table(["slice", "metric", "A", "B", "B - A"], metrics) + "</section>"
            + '<section id="importance"><h2>Feature importance (mean |attribution|)</h2>'
            + table(["feature", "rank A", "rank B", "A", "B", "B - A"],
                    [[escape(n), str(ra or "-"), str(rb or "-"), charts.number_text(va), charts.number_text(vb),
                      f'<span data-importance-diff="{escape(n)}">{charts.difference_text(vb, va)}</span>']
                     for n, ra, rb, va, vb in c.importance_rows()]) + "</section></body></html>\n")
