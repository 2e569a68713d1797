"""The run report's section on what the model is measured against: the model, the reference model
(gradient-boosted trees on the same rows) and the trivial one, with their skill, and init's suspects with the
share of the model's attribution each takes, asking whether each is known before the outcome."""
from __future__ import annotations

from html import escape

from pipelines.metadata.reference import reference_table, suspect_shares
from pipelines.report import charts
from pipelines.report.charts import table
from pipelines.report.content import Report


def reference_section(report: Report) -> str:
    summary = report.summary
    if summary.reference.get("error"):
        return ('<section id="reference"><h2>Against a reference</h2><p class="muted">The reference model could not '
                f'be fitted: {escape(summary.reference["error"])}</p></section>')
    found = reference_table(summary.metrics.get("overall", {}), summary.reference)
    if found is None:
        return ""
    rows = [[escape(who)] + [f'<span class="num" data-reference="{escape(who.split()[0])}:{escape(n)}">'
                             f'{charts.number_text(values.get(n))}</span>' for n in found.names]
            + [f'<span class="num">{charts.number_text(row_skill)}</span>'] for who, values, row_skill in found.rows]
    notes = "".join(f'<p class="{"bad" if line == found.too_far else ""}">{escape(line)}</p>'
                    for line in (found.reached, found.too_far) if line)
    suspects = suspect_shares(summary.reference.get("suspects") or {}, summary.importance)
    listed = "".join(
        f'<li data-suspect="{escape(name)}"><b>{escape(name)}</b>: '
        + escape("attribution not measured" if share is None else f"{share:.0%} of the model's attribution")
        + f". {escape(why)}</li>" for name, share, why in suspects)
    asked = ('<h3>Known before the outcome?</h3><p>A column recorded after the outcome is a leak the data cannot '
             f'reveal. <code>mlops init</code> flagged these:</p><ul>{listed}</ul>') if suspects else ""
    return (f'<section id="reference"><h2>Against a reference</h2><p>Skill on {escape(found.metric)}: 0 is the trivial '
            'model, 1 a perfect one (eval split).</p>' + table(["", *found.names, "skill"], rows)
            + notes + asked + "</section>")
