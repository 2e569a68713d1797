"""The InfraValidator's verdicts in words: why a model failed to load or answer, and outputs that are not finite."""
from __future__ import annotations

from typing import Optional


def failure_reason(error: BaseException, server_log: Optional[str], timed_out: bool = False) -> str:
    """One line for the run summary: what failed, with the server's own words when it said why."""
    details = next((d for e in (error.__cause__, error) if callable(d := getattr(e, "details", None))), None)
    if details is not None:  # a grpc.RpcError, raised or the cause of TFX's error
        reason = f"a request failed: {details()}"
    elif timed_out:
        reason = f"{error} (infra_validation.max_loading_time_seconds)"
    else:
        reason = str(error).splitlines()[0].rstrip(".") if str(error) else type(error).__name__
    said = server_error_line(server_log or "")
    if said and said not in reason:
        reason += f"; the server said: {said}"
    return shorten(reason)


def server_error_line(log: str) -> Optional[str]:
    """The last line of a model server log that reports an error."""
    markers = ("LOAD FAILED", "error", "Error", "Failed", "failed", "Killed", "MemoryError")
    for line in reversed(log.splitlines()):
        if any(marker in line for marker in markers) and "cuBLAS" not in line and "cuda" not in line.lower():
            return line.strip()
    return None


def non_finite_outputs(answers: list[dict]) -> str:
    """Why the model's answers cannot be served: "" when every number in every output is finite, else which
    outputs held NaN or infinity and in how many of the requests (a model trained on an `inf` answers NaN to
    everything; argmax of NaN still names a class, so accuracy alone does not show it)."""
    import numpy as np

    bad: dict[str, int] = {}
    for outputs in answers:
        for name, values in outputs.items():
            array = np.asarray(values)
            if array.dtype.kind in "fc" and not np.isfinite(array).all():
                bad[name] = bad.get(name, 0) + 1
    if not bad:
        return ""
    listed = ", ".join(f"{name!r} in {count} of {len(answers)} requests" for name, count in sorted(bad.items()))
    return f"the model answers NaN or infinity ({listed}): it would serve no usable prediction"


COMPLETENESS_SLACK = 0.05      # of the largest output change: well above integrated gradients' own error


def explanation_failures(answers: list[dict]) -> str:
    """Why the `explain` signature's answers cannot be trusted: "" when each row's attributions add up to
    output - baseline_output (within COMPLETENESS_SLACK of the largest change over all rows, at least 0.05),
    else how many rows do not."""
    import numpy as np

    if not answers:
        return ""
    change = np.concatenate([np.asarray(a["output"], float) - np.asarray(a["baseline_output"], float) for a in answers])
    sums = np.concatenate([np.asarray(a["attributions"], float).sum(axis=1) for a in answers])
    scale = max(float(np.abs(change).max()), 0.05)
    wrong = int((np.abs(sums - change) > COMPLETENESS_SLACK * scale).sum())
    return (f"the explain signature's attributions do not add up to output - baseline_output on {wrong} of "
            f"{len(change)} rows" if wrong else "")


def shorten(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
