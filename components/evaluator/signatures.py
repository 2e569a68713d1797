"""Models whose signatures take TFMA's positional call directly.

TFMA calls a model's signature with the batch of serialized examples as its one positional argument. A
signature loaded from a SavedModel takes keyword arguments only, so TensorFlow first tries the structured
call, formats the whole batch into the message of a TypeError, catches it and then calls the flat signature.
Printing the batches took 4.2 of 21.5 s of an Evaluator (100k examples, one model, under cProfile). Here
each loaded model's signatures are called with their keyword at once; the results are the same calls'."""
from __future__ import annotations

from typing import Any

from tensorflow_model_analysis.api import types


class KeywordCall:
    """A signature function; a call with one positional argument passes it by the signature's one input name."""

    def __init__(self, function):
        self._function = function
        inputs = (function.structured_input_signature or ((), {}))[1]
        self._keyword = next(iter(inputs)) if isinstance(inputs, dict) and len(inputs) == 1 else None

    def __call__(self, *args, **kwargs):
        if self._keyword is not None and len(args) == 1 and not kwargs:
            return self._function(**{self._keyword: args[0]})
        return self._function(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # structured_input_signature, structured_outputs, ...
        return getattr(self._function, name)


class KeywordSignatures:
    """A loaded model as TFMA sees it, with its signatures wrapped in KeywordCall; all else is the model's."""

    def __init__(self, model):
        self._model = model
        self.signatures = {name: KeywordCall(fn) for name, fn in model.signatures.items()}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class _LoadWithKeywordSignatures:
    """A ModelLoader's construct_fn (picklable for Beam's workers)."""

    def __init__(self, construct_fn):
        self._construct_fn = construct_fn

    def __call__(self) -> Any:
        model = self._construct_fn()
        return KeywordSignatures(model) if hasattr(model, "signatures") else model


def with_keyword_signatures(eval_shared_model):
    """TFX's Evaluator gives custom_extractors one EvalSharedModel, or a list (candidate and baseline)."""
    if not isinstance(eval_shared_model, types.EvalSharedModel):  # a named tuple itself
        return [with_keyword_signatures(model) for model in eval_shared_model]
    loader = eval_shared_model.model_loader
    return eval_shared_model._replace(model_loader=types.ModelLoader(
        construct_fn=_LoadWithKeywordSignatures(loader.construct_fn), tags=loader.tags))
