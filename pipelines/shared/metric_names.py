"""Names of the Evaluator's metrics that the pipeline adds itself, and of the models TFMA compares: written by
assembly.eval_config, read back by metadata/evaluation.py and the report."""
from __future__ import annotations

from typing import Optional

CANDIDATE, BASELINE, CHANGE = "candidate", "baseline", "change"


# The fairness metrics assembly.eval_config adds for binary labels, one per decision threshold.
FALSE_POSITIVE_RATE, FALSE_NEGATIVE_RATE = "false_positive_rate", "false_negative_rate"


def fairness_metric_name(kind: str, threshold: float) -> str:
    return f"{kind}@{threshold:g}"


def parse_fairness_metric(name: str) -> Optional[tuple[str, float]]:
    """(kind, threshold) of a fairness metric's name, None for any other metric."""
    kind, at, threshold = name.partition("@")
    if not at or kind not in (FALSE_POSITIVE_RATE, FALSE_NEGATIVE_RATE):
        return None
    try:
        return kind, float(threshold)
    except ValueError:
        return None
