"""The run report as one self-contained HTML page: inline CSS and SVG, no script, no request of any kind.
Opened from disk or attached to a ticket, it shows the same thing."""
from __future__ import annotations

import datetime
from html import escape

from pipelines.metadata import evaluation
from pipelines.metadata.runs import k_anonymity_line, missing_labels_line, privacy_done, slice_order
from pipelines.model_server.platforms import DESCRIPTIONS
from pipelines.report import charts
from pipelines.report.charts import table
from pipelines.report.content import BASELINE_DATA, Report
from pipelines.report.data_views import TOP_VALUES
from pipelines.report.reference_view import reference_section
from pipelines.shared import metric_names

CSS = """
body { font-family: sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; border-bottom: 1px solid #ddd; margin-top: 32px; }
h3 { font-size: 14px; margin: 18px 0 6px; }
table { border-collapse: collapse; font-size: 12px; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; } td.num { text-align: right; }
.ok { color: #0a7a0a; font-weight: bold; } .bad { color: #c0180c; font-weight: bold; }
.muted { color: #777; } .outcome { font-size: 16px; }
.features { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 12px; }
.feature { border: 1px solid #ddd; padding: 8px; } .feature.anomalous { border: 2px solid #c0180c; }
.feature h3 { margin: 0 0 4px; }
.wide { max-width: 100%; overflow-x: auto; }
.role { margin: 0 0 4px; font-size: 12px; } .role-left-out { color: #777; } .role-label { color: #0a5a9c; }
"""


def render(report: Report) -> str:
    summary = report.summary
    sections = [header(report), timeline_section(report), data_section(report), privacy_section(report),
                model_section(report), reference_section(report), explanations_section(report),
                fairness_section(report), infra_section(report),
                lineage_section(report)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
            f"<title>{escape(summary.pipeline)} run {escape(summary.run_id)}</title><style>{CSS}</style></head>"
            "<body>" + "".join(sections) + "</body></html>\n")


def header(report: Report) -> str:
    summary = report.summary
    started = min((c.started for c in summary.components), default=0)
    outcome_class = "ok" if summary.outcome in ("pushed", "cached") else "bad"
    rows = [("pipeline", summary.pipeline), ("run", summary.run_id),
            ("started", datetime.datetime.fromtimestamp(started).strftime("%Y-%m-%d %H:%M:%S") if started else "-"),
            ("config", f"{report.config_path} ({report.config_digest})"),
            ("data", describe_artifact(report.data)),
            ("model", describe_artifact(report.model)),
            ("baseline", describe_artifact(report.baseline_model) if report.baseline_model else
             "none (no blessed model before this one)" if report.metrics else "- (not evaluated)"),
            ("pushed", summary.pushed_path or "nothing")]
    return (f'<section id="run"><h1>{escape(summary.pipeline)}: run {escape(summary.run_id)}</h1>'
            f'<p class="outcome">Outcome: <span id="outcome" class="{outcome_class}">{escape(summary.outcome)}</span></p>'
            + table(["", ""], [[escape(k), escape(str(v))] for k, v in rows], head=False) + "</section>")


def describe_artifact(facts) -> str:
    if not facts:
        return "-"
    extra = ", ".join(f"{k} {v}" for k, v in facts.items() if k not in ("id", "uri"))
    return f"artifact {facts['id']}: {facts['uri']}" + (f" ({extra})" if extra else "")


def timeline_section(report: Report) -> str:
    steps = [(c.node, c.state, c.started, c.seconds) for c in report.summary.components]
    rows = [[escape(c.node), f'<span class="{"bad" if c.state in ("failed", "canceled") else ""}">'
             f'{escape(c.state)}</span>', f'<span class="num">{c.seconds:.1f}</span>']
            for c in report.summary.components]
    return ('<section id="timeline"><h2>Timeline</h2>' + charts.timeline(steps)
            + table(["component", "state", "seconds"], rows) + "</section>")


def data_section(report: Report) -> str:
    if not report.features:
        return '<section id="data"><h2>Data</h2><p class="muted">No statistics in this run.</p></section>'
    # This run's train and eval, then the baseline model's training data when there is a baseline.
    splits = sorted({s for f in report.features for s in f.examples}, key=lambda s: (s == BASELINE_DATA, s != "train", s))
    counts = ", ".join(f'{escape(s)}: <span data-examples="{escape(s)}">{report.features[0].examples.get(s, 0)}'
                       f'</span> examples' for s in splits)
    anomalies = report.summary.anomalies
    listed = ("<p>Anomalies: none</p>" if not anomalies else
              f'<p class="bad">Anomalies ({len(anomalies)}):</p><ul>'
              + "".join(f"<li>{escape(str(a))}</li>" for a in anomalies) + "</ul>")
    if report.summary.label_counts:
        unlabelled = any(c["unlabelled"] for c in report.summary.label_counts.values())
        listed += (f'<p id="missing-labels" class="{"bad" if unlabelled else "muted"}">'
                   f'{escape(missing_labels_line(report.summary.label_counts))}</p>')
    listed += drift_table(report)
    distance_of = {c.feature: c for c in report.summary.drift}
    cards = []
    hidden = set(report.summary.hidden)
    for feature in report.features:
        if feature.name in hidden:  # personal or pseudonymised: its statistics hold counts only
            chart = (f'<p class="muted" data-hidden="{escape(feature.name)}">values not shown (privacy): '
                     f'{escape(counts_text(feature, splits))}</p>')
        elif feature.kind == "numeric":
            chart = charts.histogram([(s, feature.histogram.get(s, [])) for s in splits], x_label=feature.name)
        else:
            values = list(dict.fromkeys(v for s in splits for v, _ in feature.top_values.get(s, [])))[:TOP_VALUES]
            rows = []
            for value in values:
                row = []
                for s in splits:
                    total = feature.examples.get(s) or 0
                    count = dict(feature.top_values.get(s, [])).get(value)
                    row.append(count / total if count is not None and total else None)
                rows.append((value, row))
            chart = charts.bars(rows, series=splits, width=330, label_width=110, digits=2)
        missing = ", ".join(f"{escape(s)} {feature.missing.get(s, 0):.1%}" for s in splits)
        filled = next((f.becomes for f in report.summary.filled if f.feature == feature.name), None)
        if filled:
            missing += f' <span data-filled="{escape(feature.name)}">&rarr; {escape(filled)}</span>'

        flagged = "".join(f'<p class="bad">{escape(a)}</p>' for a in feature.anomalies)
        distance = distance_of.get(feature.name)
        if distance is not None:
            flagged += (f'<p class="{"bad" if distance.exceeded else "muted"}" data-distance="{distance.value}">drift: '
                        f'{distance.measure} {charts.number_text(distance.value)} (threshold {distance.threshold:g})</p>')
        marked = feature.anomalies or (distance is not None and distance.exceeded)
        cards.append(f'<div class="feature{" anomalous" if marked else ""}" '
                     f'data-feature="{escape(feature.name)}"><h3>{escape(feature.name)} '
                     f'<span class="muted">({feature.kind})</span></h3>{role_line(report, feature.name)}{chart}'
                     f'<p class="muted">missing: {missing}</p>{flagged}</div>')
    return (f'<section id="data"><h2>Data</h2><p>{counts}</p>{listed}'
            f'<div class="features">{"".join(cards)}</div></section>')


def counts_text(feature, splits: list[str]) -> str:
    return ", ".join(f"{s} {feature.examples.get(s, 0) * (1 - feature.missing.get(s, 0)):.0f} present"
                     + (f", {feature.distinct[s]} distinct" if feature.distinct.get(s) else "") for s in splits)


def privacy_section(report: Report) -> str:
    """What ingestion pseudonymised, dropped and left out, which columns show counts only, k-anonymity, and
    whether the pushed model was trained on rows forgotten since. Names and counts, never values."""
    summary = report.summary
    items = [f"<li>{escape(line)}</li>" for line in privacy_done(summary)]
    k = summary.privacy.get("k_anonymity")
    if not items and not k and not summary.forgotten_by:
        return ""
    if k:
        below = k.get("min_k") and k["k"] < k["min_k"]
        items.append(f'<li id="k-anonymity" data-k="{k["k"]}" class="{"bad" if below else ""}">{escape(k_anonymity_line(k))}'
                     f' ({k["groups"]} groups)</li>')
    if summary.forgotten_by:
        items.append(f'<li class="bad" id="holds-forgotten">the pushed model was trained on rows forgotten since '
                     f'(forget request {escape(summary.forgotten_by)}): run the pipeline again to replace it</li>')
    note = ("<p class=\"muted\">k-anonymity counts rows sharing the same quasi-identifier values; it says nothing "
            "about other columns, nor about what can be learnt by linking other data.</p>" if k else "")
    return f'<section id="privacy"><h2>Privacy</h2><ul>{"".join(items)}</ul>{note}</section>'


def role_line(report: Report, column: str) -> str:
    role = report.roles.get(column)
    if role is None:
        return ""
    kind = "feature" if role.startswith("feature") else "label" if role.startswith("label") else "left-out"
    return f'<p class="role role-{kind}" data-role="{kind}">{escape(role)}</p>'


def drift_table(report: Report) -> str:
    """Every compared feature's distance from the served model's training data, with its threshold."""
    summary = report.summary
    if not summary.drift_note:
        return ""
    rows = [[f'<span data-drift="{escape(c.feature)}">{escape(c.feature)}</span>', escape(c.measure),
             charts.number_text(c.value), f"{c.threshold:g}",
             '<span class="bad">DRIFTED</span>' if c.exceeded else "ok"] for c in summary.drift]
    drifted = sum(c.exceeded for c in summary.drift)
    style = ' class="bad"' if drifted else ""
    heading = f"<p{style}>Drift ({escape(summary.drift_note)}): {drifted} of {len(rows)} over their threshold</p>"
    return heading + (table(["feature", "distance", "value", "threshold", ""], rows) if rows else "")


def model_section(report: Report) -> str:
    summary = report.summary
    if not report.metrics:
        return '<section id="model"><h2>Model</h2><p class="muted">Not evaluated in this run.</p></section>'
    blessed = ('<p>Blessed: <span id="blessed" class="ok">yes</span>, every threshold met</p>' if summary.blessed else
               '<p>Blessed: <span id="blessed" class="bad">no</span></p>')
    label = summary.features_config.label if summary.features_config is not None else None
    if label is not None and label.head == "binary":
        blessed += (f'<p>Positive class: <span id="positive">{escape(label.positive_class)}</span> (what the score '
                    'is the probability of)</p>')
    if summary.too_good:
        blessed += f'<p id="too-good" class="bad">Too good to be true? {escape(summary.too_good)}</p>'
    verdict_rows = [[escape(v.metric), escape(v.slice), escape(v.kind), escape(v.requirement),
                     f'<span class="num">{charts.number_text(v.value)}</span>',
                     f'<span class="{"ok" if v.met else "bad"}" data-verdict="{escape(v.metric)}:{v.kind}">'
                     f'{"met" if v.met else "FAILED"}</span>'] for v in report.verdicts]
    thresholds = (table(["metric", "slice", "kind", "requirement", "value", "verdict"], verdict_rows)
                  if verdict_rows else '<p class="muted">No thresholds configured.</p>')

    models = [m for m in (metric_names.CANDIDATE, metric_names.BASELINE, metric_names.CHANGE)
              if any(m in v for values in report.metrics.values() for v in values.values())]
    names = sorted({name for values in report.metrics.values() for name in values})
    slices = sorted(report.metrics, key=slice_order)
    header_cells = ["slice"] + [f"{name} ({model})" if len(models) > 1 else name for name in names for model in models]
    rows = []
    for slice_key in slices:
        row = [escape(slice_key)]
        for name in names:
            for model in models:
                value = report.metrics[slice_key].get(name, {}).get(model)
                row.append(f'<span class="num" data-metric="{escape(name)}" data-slice="{escape(slice_key)}" '
                           f'data-model="{model}">{charts.number_text(value)}</span>')
        rows.append(row)

    per_metric = []
    for name in names:
        if name == "example_count" or metric_names.parse_fairness_metric(name):  # counts; the fairness view's own
            continue
        bars_rows = [(s, [report.metrics[s].get(name, {}).get(m) for m in models if m != metric_names.CHANGE])
                     for s in slices]
        per_metric.append(f"<h3>{escape(name)} per slice</h3>" + charts.bars(
            bars_rows, series=[m for m in models if m != metric_names.CHANGE]))
    return (f'<section id="model"><h2>Model</h2>{blessed}<h3>Thresholds</h3>{thresholds}'
            f'{confusion_matrices(report)}{class_confusion(report)}{calibration(report)}{regression_views(report)}'
            f'<h3>Metrics per slice (eval split)</h3><div class="wide">{table(header_cells, rows)}</div>'
            f'{"".join(per_metric)}</section>')


def calibration(report: Report) -> str:
    """Predicted probability against the observed rate of positives, per bucket of prediction (overall)."""
    buckets = report.calibration.get("overall")
    if not buckets:
        return ""
    rows = [(f"{low:.1f}-{high:.1f} ({count:.0f})", [prediction, label]) for low, high, count, label, prediction in buckets]
    return ("<h3>Calibration (overall): mean prediction against the observed rate of positives, per bucket "
            "of prediction (examples)</h3>" + charts.bars(rows, series=["mean prediction", "observed rate"], digits=2))


def confusion_matrices(report: Report) -> str:
    """The overall confusion matrix at each decision threshold (binary labels)."""
    parts = []
    for threshold, cells in sorted(report.confusion.get("overall", {}).items()):
        def cell(name: str, threshold=threshold, cells=cells) -> str:
            return f'<span class="num" data-confusion="{threshold:g}:{name}">{cells[name]:.0f}</span>'
        parts.append(f"<h3>Confusion matrix at decision threshold {threshold:g} (overall)</h3>" + table(
            ["", "predicted positive", "predicted negative"],
            [["actually positive", cell("tp"), cell("fn")], ["actually negative", cell("fp"), cell("tn")]]))
    return "".join(parts)


def explanations_section(report: Report) -> str:
    """What the model relies on (FeatureImportance): mean |attribution| per feature, per slice, and partial
    dependence of the most important features."""
    found = report.importance
    if not found:
        return ('<section id="explanations"><h2>What the model relies on</h2><p class="muted">No feature '
                "importance in this run.</p></section>")
    explained = ", ".join(found.get("explained", [])) or "the output"
    what = {"binary": f"the probability of {explained}", "multiclass": "the probability of the predicted class",
            "regression": f"the predicted {explained}"}.get(found.get("label_kind", ""), "the model's output")
    ranked = list(found["importance"].items())
    rows = [(name, [value]) for name, value in ranked]
    gaps = found.get("completeness", {})
    cells = [[f'<span data-importance="{escape(name)}">{escape(name)}</span>',
              f'<span class="num">{value:.4g}</span>',
              f'<span class="num">{found.get("mean_attribution", {}).get(name, 0.0):+.4g}</span>']
             for name, value in ranked]
    intro = (f"<p>Integrated gradients of {escape(what)}, through the transform graph, summed back to each raw "
             f"feature, on {found['rows']} rows of the eval split"
             + (f" (of {found['rows_available']})" if found.get("rows_available") else "")
             + f". Baseline: the average training example, whose output is {charts.number_text(found.get('baseline_output'))} "
             f"(mean output on these rows: {charts.number_text(found.get('mean_output'))}). A row's attributions add up "
             f"to its output minus the baseline's: the largest gap here is {charts.number_text(gaps.get('max_gap'), 2)} "
             f"(mean {charts.number_text(gaps.get('mean_gap'), 2)}).</p>")
    parts = [intro, "<h3>Importance: mean |attribution| per feature</h3>",
             charts.bars(rows, width=560, label_width=190),
             table(["feature", "mean |attribution|", "mean attribution"], cells)]
    parts.append(slice_importance(found))
    curves = []
    classes = found.get("classes") or []
    for dependence in found.get("partial_dependence", []):
        name, points = dependence["feature"], dependence["points"]
        if dependence["categorical"]:
            chart = charts.bars([(str(p["value"]), p["mean_output"] if isinstance(p["mean_output"], list)
                                  else [p["mean_output"]]) for p in points],
                                series=classes, width=330, label_width=110, digits=3)
        else:
            outputs = [p["mean_output"] for p in points]
            names = classes if outputs and isinstance(outputs[0], list) else [what]
            series = [(label, [(p["value"], p["mean_output"][i] if isinstance(p["mean_output"], list) else p["mean_output"])
                               for p in points]) for i, label in enumerate(names)]
            chart = charts.curve(series, x_label=name, y_label="mean output")
        curves.append(f'<div class="feature" data-dependence="{escape(name)}"><h3>{escape(name)}</h3>{chart}</div>')
    if curves:
        parts.append("<h3>Partial dependence: the mean output when every row's value is set to each one</h3>"
                     f'<div class="features">{"".join(curves)}</div>')
    return '<section id="explanations"><h2>What the model relies on</h2>' + "".join(parts) + "</section>"


def slice_importance(found: dict) -> str:
    """Per slice, the top features' importance beside the overall one (a table, five features wide)."""
    slices = found.get("slices") or []
    if not slices:
        return ""
    top = list(found["importance"])[:5]
    rows = [["overall", str(found["rows"])] + [f'<span class="num">{found["importance"][n]:.3g}</span>' for n in top]]
    rows += [[escape(s["slice"]), str(s["rows"])] + [f'<span class="num">{s["importance"].get(n, 0.0):.3g}</span>'
                                                      for n in top]
             for s in sorted(slices, key=lambda s: slice_order(s["slice"]))]
    return ("<h3>Importance per slice (the overall top five)</h3>"
            + f'<div class="wide">{table(["slice", "rows", *top], rows)}</div>')


def regression_views(report: Report) -> str:
    """A regression's predictions against the actual values, and its residuals, on the rows FeatureImportance
    explained (a sample of the eval split)."""
    found = (report.importance or {}).get("predictions")
    if not found or not found.get("actual"):
        return ""
    actual, predicted = found["actual"], found["predicted"]
    residuals = [p - a for a, p in zip(actual, predicted)]
    mean_residual = sum(residuals) / len(residuals)
    return (f'<h3 id="predicted-against-actual">Predicted against actual ({len(actual)} rows of the eval split)</h3>'
            '<div class="features"><div class="feature">'
            + charts.scatter(list(zip(actual, predicted)), x_label="actual", y_label="predicted")
            + '</div><div class="feature">'
            + charts.histogram([("residual", charts.equal_width_buckets(residuals))], x_label="predicted - actual")
            + f'<p class="muted">residual = predicted - actual; mean <span data-mean-residual="{mean_residual}">'
              f"{charts.number_text(mean_residual)}</span></p></div></div>")


def class_confusion(report: Report) -> str:
    """A multiclass model's confusion matrix (overall) and each class's precision and recall."""
    matrix = report.class_confusion.get("overall")
    if not matrix:
        return ""
    names = (report.importance or {}).get("classes") or []
    rates = evaluation.per_class_rates(matrix)
    ids = sorted(rates)

    def name(c: int) -> str:
        return names[c] if 0 <= c < len(names) else str(c)

    rows = [[f"actually {escape(name(a))}"] + [f'<span class="num" data-class-confusion="{a}:{p}">'
                                               f'{matrix.get((a, p), 0.0):.0f}</span>' for p in ids] for a in ids]
    per_class = [[escape(name(c)), f'<span class="num">{rates[c]["examples"]:.0f}</span>',
                  f'<span class="num" data-class-precision="{escape(name(c))}">{charts.number_text(rates[c]["precision"], 3)}'
                  "</span>",
                  f'<span class="num" data-class-recall="{escape(name(c))}">{charts.number_text(rates[c]["recall"], 3)}'
                  "</span>"] for c in ids]
    return ("<h3>Confusion matrix (overall): actual classes against the predicted (top) class</h3>"
            + f'<div class="wide">{table([""] + [f"predicted {name(p)}" for p in ids], rows)}</div>'
            + "<h3>Per class (overall)</h3>" + table(["class", "examples", "precision", "recall"], per_class)
            + charts.bars([(name(c), [rates[c]["precision"], rates[c]["recall"]]) for c in ids],
                          series=["precision", "recall"], digits=3))


def fairness_section(report: Report) -> str:
    """False positive and false negative rates per value of each slicing feature, against the overall rates."""
    rates: dict[float, dict[str, dict[str, float]]] = {}  # threshold -> slice -> kind -> candidate's rate
    for slice_key, metrics in report.metrics.items():
        for name, models in metrics.items():
            parsed = metric_names.parse_fairness_metric(name)
            if parsed and metric_names.CANDIDATE in models:
                rates.setdefault(parsed[1], {}).setdefault(slice_key, {})[parsed[0]] = models[metric_names.CANDIDATE]
    if not rates:
        return ('<section id="fairness"><h2>Fairness</h2><p class="muted">No false positive or negative rates in '
                "this run (binary labels, evaluation.fairness_thresholds).</p></section>")
    kinds = (metric_names.FALSE_POSITIVE_RATE, metric_names.FALSE_NEGATIVE_RATE)
    parts = []
    for threshold in sorted(rates):
        per_slice = rates[threshold]
        overall = per_slice.get("overall", {})
        groups: dict[str, list[str]] = {}
        for slice_key in sorted(per_slice, key=slice_order):
            if slice_key != "overall":
                groups.setdefault(", ".join(p.partition("=")[0] for p in slice_key.split(", ")), []).append(slice_key)
        for feature, slice_keys in groups.items():
            rows = [("overall", [overall.get(k) for k in kinds])] + [
                (", ".join(p.partition("=")[2] for p in key.split(", ")), [per_slice[key].get(k) for k in kinds])
                for key in slice_keys]
            cells = [[escape(label)] + [f'<span class="num">{charts.number_text(v, 3)}</span>' for v in values] +
                     [f'<span class="num">{charts.difference_text(v, overall.get(k), "+.3f")}</span>'
                      for v, k in zip(values, kinds)]
                     for label, values in rows]
            parts.append(f"<h3>{escape(feature)}, decision threshold {threshold:g}</h3>"
                         + charts.bars(rows, series=["false positive rate", "false negative rate"], digits=3)
                         + table([feature, "false positive rate", "false negative rate", "FPR - overall",
                                  "FNR - overall"], cells))
    return ('<section id="fairness"><h2>Fairness</h2><p>Error rates of the candidate on the eval split, per value '
            "of each slicing feature, against the overall rates.</p>" + "".join(parts) + "</section>")


def infra_section(report: Report) -> str:
    summary = report.summary
    if summary.infra_blessed is None:
        return '<section id="infra"><h2>Infra validation</h2><p class="muted">Not run.</p></section>'
    platform = f"{summary.infra_platform} ({DESCRIPTIONS.get(summary.infra_platform or '', 'unknown platform')})"
    verdict = ('<span id="infra-verdict" class="ok">passed</span>' if summary.infra_blessed else
               '<span id="infra-verdict" class="bad">FAILED</span>')
    reason = f"<p>{escape(summary.infra_reason)}</p>" if summary.infra_reason and not summary.infra_blessed else ""
    return (f'<section id="infra"><h2>Infra validation</h2><p>{verdict} on {escape(platform)}</p>{reason}'
            "</section>")


def lineage_section(report: Report) -> str:
    if not report.lineage_nodes:
        return '<section id="lineage"><h2>Lineage</h2><p class="muted">Nothing to trace in this run.</p></section>'
    return (f'<section id="lineage"><h2>Lineage</h2><p>From the input data to {escape(report.lineage_of or "")}, as ML '
            "Metadata's events link them (boxes: executions; rounded: artifacts).</p>"
            + charts.graph(report.lineage_nodes, report.lineage_edges) + "</section>")
