"""Publishing a pushed model version atomically, and whether the reference model holds it back: plain
functions."""
from __future__ import annotations

import os
import shutil

from pipelines.shared import reference_model


def publish(staged_version_dir: str, serving_dir: str) -> str:
    """Moves a complete version folder into the serving folder with one rename; returns its new path.

    A crash before the rename leaves only the staging folder; after it, a complete version.
    """
    final = os.path.join(serving_dir, os.path.basename(staged_version_dir))
    if os.path.exists(final):
        raise FileExistsError(f"{final} already exists: a version is never overwritten")
    os.rename(staged_version_dir, final)
    return final


def discard(staging: str) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    parent = os.path.dirname(staging)
    if os.path.isdir(parent) and not os.listdir(parent):
        os.rmdir(parent)


def overall_metrics(evaluation_uri: str) -> dict[str, float]:
    """The candidate's metrics on the overall slice, from TFMA's output."""
    import tensorflow_model_analysis as tfma

    for per_slice in tfma.load_metrics(evaluation_uri):
        if per_slice.slice_key.single_slice_keys:
            continue
        return {kv.key.name: kv.value.double_value.value for kv in per_slice.metric_keys_and_values
                if kv.value.HasField("double_value") and not kv.key.is_diff and kv.key.model_name != "baseline"}
    return {}


def reference_gap_reason(overall: dict[str, float], reference: dict) -> str:
    """Why the model is held back ("" when it is not): with on_gap stop, its skill falls short of the
    reference's by more than max_gap."""
    if reference.get("on_gap") != "stop" or reference.get("max_gap") is None:
        return ""
    found = reference_model.gap(overall, reference) if reference.get("reference") else None
    if found is None or found[3] <= reference["max_gap"]:
        return ""
    metric, ours, theirs, short = found
    return (f"its skill on {metric} ({ours:.3f}) is {short:.3f} short of the reference model's ({theirs:.3f}); "
            f"evaluation.reference.max_gap is {reference['max_gap']}")
