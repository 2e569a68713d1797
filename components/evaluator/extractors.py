"""The Evaluator's `module_path` hook: TFMA's default extractors on models whose signatures take TFMA's call
directly (signatures.py), and, when the metrics are batched, with unbatching and per-example slice keys
replaced by `SliceBatches`: each predicted batch becomes one extract per slice key, holding that slice's
rows of labels, predictions and example weights (what `metrics.Batched` adds up)."""
from __future__ import annotations

from typing import Any

import apache_beam as beam
from tensorflow_model_analysis import constants
from tensorflow_model_analysis.api import model_eval_lib
from tensorflow_model_analysis.extractors import extractor, slice_key_extractor, unbatch_extractor
from tensorflow_model_analysis.slicer import slicer_lib as slicer
from tensorflow_model_analysis.utils import util

from components.evaluator import batches, metrics, signatures

# The evaluators run after the stage of this name: the slice batches take its place.
STAGE_NAME = slice_key_extractor.SLICE_KEY_EXTRACTOR_STAGE_NAME
# What a batch's extract per slice keeps: what TFMA's standard metric inputs are made of.
KEPT = (constants.LABELS_KEY, constants.PREDICTIONS_KEY, constants.EXAMPLE_WEIGHTS_KEY)


def custom_extractors(eval_shared_model, eval_config, tensor_adapter_config=None) -> list[extractor.Extractor]:
    """Called by TFX's Evaluator executor (udf_utils' `custom_extractors`)."""
    extractors = model_eval_lib.default_extractors(eval_shared_model=signatures.with_keyword_signatures(eval_shared_model),
                                                   eval_config=eval_config, tensor_adapter_config=tensor_adapter_config)
    if not is_batched(eval_config):
        return extractors
    per_example = (unbatch_extractor.UNBATCH_EXTRACTOR_STAGE_NAME, slice_key_extractor.SLICE_KEY_EXTRACTOR_STAGE_NAME)
    if [e.stage_name for e in extractors[-2:]] != list(per_example):
        raise ValueError(f"TFMA's extractors end in {[e.stage_name for e in extractors]}, not {per_example}")
    return [*extractors[:-2], extractor.Extractor(stage_name=STAGE_NAME, ptransform=_SliceBatches(eval_config))]


def is_batched(eval_config) -> bool:
    """Whether the config's metrics are `metrics.Batched` (eval_config.batched made them so)."""
    return any(m.module == metrics.__name__ for spec in eval_config.metrics_specs for m in spec.metrics)


@beam.ptransform_fn
def _SliceBatches(batches_in: beam.PCollection, eval_config) -> beam.PCollection:  # noqa: N802 (a Beam transform)
    return batches_in | "SliceBatches" >> beam.ParDo(SliceBatchesFn(eval_config))


def slicing_columns(eval_config) -> list[str]:
    return sorted({column for spec in eval_config.slicing_specs
                   for column in [*spec.feature_keys, *spec.feature_values]})


class SliceBatchesFn(beam.DoFn):
    """A batched extract -> one extract per slice key of its rows, with the same slice keys TFMA's
    SliceKeyExtractor gives each row (transformed features first, then raw features)."""

    def __init__(self, eval_config):
        if eval_config.cross_slicing_specs or any(s.slice_keys_sql for s in eval_config.slicing_specs):
            raise ValueError("cross slices and SQL slices are not batched")
        self._eval_config = eval_config
        self._slice_specs = [slicer.SingleSliceSpec(spec=spec) for spec in eval_config.slicing_specs] \
            or [slicer.SingleSliceSpec()]
        self._columns = slicing_columns(eval_config)

    def process(self, batch: dict[str, Any]):
        rows = batches.batch_size({name: batch.get(name) for name in (constants.PREDICTIONS_KEY, constants.LABELS_KEY)})
        if rows is None:
            raise ValueError(f"a batch without predictions or labels to evaluate: {sorted(batch)}")
        groups = batches.row_groups(self._slice_keys(batch, rows))
        for key, members in groups.items():
            part = {name: batches.take_rows(batch.get(name), members) for name in KEPT}
            part[constants.SLICE_KEY_TYPES_KEY] = slicer.slice_keys_to_numpy_array([key])
            yield part

    def _slice_keys(self, batch: dict[str, Any], rows: int) -> list[list]:
        if not self._columns:  # the overall slice only: the same key for every row
            return [list(slicer.get_slices_for_features_dicts([], {}, self._slice_specs))] * rows
        wanted = {constants.FEATURES_KEY: _columns_of(batch.get(constants.FEATURES_KEY), self._columns)}
        transformed = batch.get(constants.TRANSFORMED_FEATURES_KEY)
        single_model = len(self._eval_config.model_specs) <= 1
        if transformed is not None:
            wanted[constants.TRANSFORMED_FEATURES_KEY] = (
                _columns_of(transformed, self._columns) if single_model else
                {spec.name: _columns_of(transformed[spec.name], self._columns)
                 for spec in self._eval_config.model_specs if spec.name in transformed})
        split = util.split_extracts(wanted) or [{}] * rows
        if len(split) != rows:
            raise ValueError(f"slicing columns {self._columns} have {len(split)} rows in a batch of {rows}")
        keys = []
        for row in split:
            row_transformed = row.get(constants.TRANSFORMED_FEATURES_KEY)
            features_dicts = ([] if row_transformed is None else [row_transformed] if single_model
                              else [row_transformed[spec.name] for spec in self._eval_config.model_specs
                                    if spec.name in row_transformed])
            keys.append(list(slicer.get_slices_for_features_dicts(features_dicts, row.get(constants.FEATURES_KEY) or {},
                                                                  self._slice_specs)))
        return keys


def _columns_of(features, columns: list[str]) -> dict:
    return {name: value for name, value in (features or {}).items() if name in columns}
