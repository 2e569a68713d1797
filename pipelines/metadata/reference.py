"""What a run's model is measured against, from the ReferenceModel's record: the model, the reference model
(gradient-boosted trees on the same rows) and the trivial one side by side with their skill, and init's
suspects with the share of the model's attribution each takes. Read by the summary, the report and
`mlops models`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from pipelines.metadata.evaluation import value_text
from pipelines.shared import reference_model
from pipelines.shared.importance import shares


@dataclass
class ReferenceTable:
    """The model, the reference model and the trivial one on the metrics they share, each with its skill on the
    label kind's primary metric (0: the trivial model, 1: a perfect one)."""
    metric: str                                              # what skill is measured on
    names: list[str]                                         # the metrics shown
    rows: list[tuple[str, dict[str, float], Optional[float]]]  # (who, metric -> value, skill)
    gap: Optional[tuple[str, float, float, float]] = None    # reference_model.gap
    max_gap: Optional[float] = None
    on_gap: str = "warn"

    @property
    def reached(self) -> str:
        """"the model reaches 98% of the reference's skill (short by 0.004)", or ""."""
        if self.gap is None:
            return ""
        _, ours, theirs, short = self.gap
        reached = f"{ours / theirs:.0%} of the reference's skill" if theirs > 0 else "a skill the reference does not"
        return f"the model reaches {reached} ({'short by' if short > 0 else 'ahead by'} {abs(short):.3f})"

    @property
    def too_far(self) -> str:
        """What happens to a model short of the reference by more than max_gap, or ""."""
        if self.gap is None or self.max_gap is None or self.gap[3] <= self.max_gap:
            return ""
        then = "not pushed" if self.on_gap == "stop" else "check its features and settings (on_gap: stop holds such a model back)"
        return f"Short of the reference by more than evaluation.reference.max_gap ({self.max_gap}): {then}"


def reference_table(overall: dict[str, float], reference: dict) -> Optional[ReferenceTable]:
    """None when the run has no reference model, or the reference could not be fitted."""
    if not reference or reference.get("error"):
        return None
    head = reference["head"]
    rows = [("model", overall), (f"reference ({reference['description']})", reference["reference"]),
            (f"trivial ({'the median' if head == reference_model.REGRESSION else 'commonest class'})", reference["trivial"])]
    return ReferenceTable(
        reference_model.PRIMARY[head][0], sorted(set(reference["reference"]) & set(overall)) or sorted(reference["reference"]),
        [(who, values, reference_model.primary_skill(values, reference["trivial"], head) if values else None)
         for who, values in rows],
        reference_model.gap(overall, reference) if overall else None, reference.get("max_gap"),
        reference.get("on_gap", "warn"))


def reference_lines(overall: dict[str, float], reference: dict) -> list[str]:
    """The summary's lines for reference_table."""
    if reference.get("error"):
        return ["", f"Against a reference: none (the reference model could not be fitted: {reference['error']})"]
    found = reference_table(overall, reference)
    if found is None:
        return []
    width = max(len(who) for who, _, _ in found.rows)
    widths = [max(14, len(n)) for n in found.names + ["skill"]]
    lines = ["", f"Against a reference (eval split; skill on {found.metric}: 0 the trivial model, 1 a perfect one):",
             f"  {'':<{width}}  " + "  ".join(f"{n:>{w}}" for n, w in zip(found.names + ["skill"], widths))]
    for who, values, row_skill in found.rows:
        lines.append(f"  {who:<{width}}  " + "  ".join(value_text(v, w) for v, w in
                                                       zip([values.get(n) for n in found.names] + [row_skill], widths)))
    lines += [f"  {line}" for line in (found.reached, found.too_far) if line]
    return lines


def suspect_shares(suspects: dict[str, str], importance: dict[str, float]) -> list[tuple[str, Optional[float], str]]:
    """(feature, its share of the model's attribution or None, why init flagged it) for init's suspects;
    `importance`: FeatureImportance's mean |attribution| per feature."""
    share = shares(importance) if importance else {}
    return [(name, share.get(name), why) for name, why in suspects.items()]
