"""Resolver strategies. The Evaluator's baseline: the latest blessed model other than the candidate itself.

TFX's LatestBlessedModelStrategy returns the candidate as its own baseline when the Trainer's
output was reused from cache; the Evaluator's inputs then differ from the previous run and an
unchanged pipeline re-evaluates and re-pushes. Comparing a model with itself proves nothing, so
the candidate is skipped: an unchanged re-run is then served from cache end to end.
"""
from __future__ import annotations

from typing import Optional

from tfx import types
from tfx.dsl.components.common import resolver

BLESSED = "blessed"
CURRENT_MODEL_ID = "current_model_id"
MODEL, BLESSING, CANDIDATE = "model", "model_blessing", "candidate"


def latest_blessed_other_than(models: list, blessings: list, candidate_ids: set[int]) -> tuple[list, list]:
    """([model], [its blessing]) of the newest blessed model not in candidate_ids, else ([], [])."""
    blessing_of = {b.get_int_custom_property(CURRENT_MODEL_ID): b
                   for b in blessings if b.get_int_custom_property(BLESSED) == 1}
    for model in sorted(models, key=lambda m: m.id, reverse=True):
        if model.id in blessing_of and model.id not in candidate_ids:
            return [model], [blessing_of[model.id]]
    return [], []


class LatestBlessedOtherModelStrategy(resolver.ResolverStrategy):
    """Inputs `model` and `model_blessing` (all of the pipeline's), `candidate` (the Trainer's output)."""

    def resolve_artifacts(self, store, input_dict: dict[str, list[types.Artifact]]
                          ) -> Optional[dict[str, list[types.Artifact]]]:
        candidate_ids = {a.id for a in input_dict.get(CANDIDATE, [])}
        model, blessing = latest_blessed_other_than(input_dict.get(MODEL, []), input_dict.get(BLESSING, []),
                                                    candidate_ids)
        return {MODEL: model, BLESSING: blessing, CANDIDATE: input_dict.get(CANDIDATE, [])}


class LatestOrNoneStrategy(resolver.ResolverStrategy):
    """The newest artifact of each input, or none before the first one: TFX's LatestArtifactStrategy fails
    the run then (it returns None when an input has no artifact), which a first run always meets."""

    def resolve_artifacts(self, store, input_dict: dict[str, list[types.Artifact]]
                          ) -> Optional[dict[str, list[types.Artifact]]]:
        return {key: sorted(artifacts, key=lambda a: a.id)[-1:] for key, artifacts in input_dict.items()}
