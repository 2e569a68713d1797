"""TFMA evaluation on batches of examples, for TFX's own Evaluator (same metrics files, validations, blessing).

TFMA's default pipeline unbatches every example, slices it, and runs each metric's Python `add_input` once per
example, per slice and per model: about 0.65 ms an example, which made the Evaluator the slowest component
on a full eval split. Here the examples stay in the batches the model predicted them in:

- `extractors.custom_extractors` (the Evaluator's `module_path` hook) replaces TFMA's unbatch and slice-key
  extractors with one that groups each batch's rows by slice key: one extract per (batch, slice key) holding
  that slice's labels, predictions and example weights as arrays;
- `metrics.Batched` wraps each configured TFMA metric: the same computations, keys, derived metrics and
  thresholds, with each per-example combiner wrapped to take a batch (`batches.py`: vectorized example
  count, confusion matrices and calibration histogram; any other combiner gets the batch's rows one by one,
  exactly as TFMA would have given them).

`signatures.py`: the models the extractors load take TFMA's positional call with their signature's keyword
(TensorFlow otherwise formats each batch into an error message before it falls back to that call).

`eval_config.batchable(metric_configs)` says whether a config can take this path: TFMA's own metric classes
whose computations read only labels, predictions and weights (a Keras metric's combiner is TFMA's Keras
wrapper; those configs stay on TFMA's default path)."""
