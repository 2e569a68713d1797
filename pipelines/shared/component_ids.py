"""Every node id a pipeline can have, declared once.

create_pipeline gives each component its id from here; the config checks Kubeflow `resources`
against it; the ML Metadata readers find a run's components by it. Imports nothing, so anything
may import it. tests/unit/test_assembly.py builds every combination of options and fails when a
pipeline produces an id that is not declared here, or when a declared id is never produced.
"""

EXAMPLE_GEN = "CsvExampleGen"
STATISTICS_GEN = "StatisticsGen"
SCHEMA_GEN = "SchemaGen"                 # infers a schema when there is no curated one
IMPORT_SCHEMA_GEN = "ImportSchemaGen"    # reads the curated schemas/<name>/schema.pbtxt
EXAMPLE_VALIDATOR = "ExampleValidator"
DRIFT_CHECK = "DriftCheck"               # unless drift.on_drift: skip
DATA_GATE = "DataGate"                   # with on_anomalies: stop or drift.on_drift: stop
TRANSFORM = "Transform"
TUNER = "Tuner"                          # only with tuning.enabled
TRAINER = "Trainer"
INFRA_VALIDATOR = "InfraValidator"
BASELINE_RESOLVER = "latest_blessed_model_resolver"
LATEST_PUSH_RESOLVER = "latest_pushed_model_resolver"  # with DriftCheck: a new push makes the check run again
EVALUATOR = "Evaluator"
FEATURE_IMPORTANCE = "FeatureImportance"  # attributions of the trained model on a sample of the eval split
REFERENCE_MODEL = "ReferenceModel"        # gradient-boosted trees the model is measured against (evaluation.reference)
PUSHER = "Pusher"
# Batch inference: the pipeline's last steps when batch_inference.data and .output are set; `mlops predict`
# runs them as a pipeline of their own, with the served model imported.
INFERENCE_EXAMPLE_GEN = "InferenceExampleGen"
BULK_INFERRER = "BulkInferrer"
PREDICTION_EXPORT = "PredictionExport"
MODEL_IMPORTER = "served_model_importer"  # `mlops predict` only

ALL = (EXAMPLE_GEN, STATISTICS_GEN, SCHEMA_GEN, IMPORT_SCHEMA_GEN, EXAMPLE_VALIDATOR, LATEST_PUSH_RESOLVER, DRIFT_CHECK,
       DATA_GATE, TRANSFORM, TUNER, TRAINER, INFRA_VALIDATOR, BASELINE_RESOLVER, EVALUATOR, FEATURE_IMPORTANCE,
       REFERENCE_MODEL, PUSHER, INFERENCE_EXAMPLE_GEN, BULK_INFERRER, PREDICTION_EXPORT)
# Each runs in a container of its own on Kubeflow, so it may have `resources`; the resolvers do not.
WITH_RESOURCES = tuple(node for node in ALL if node not in (BASELINE_RESOLVER, LATEST_PUSH_RESOLVER))
WITH_GPU = (TRAINER, TUNER)
# Each runs a Beam pipeline, so it may have Beam arguments of its own (ExampleGen reads with pyarrow).
WITH_BEAM = (STATISTICS_GEN, TRANSFORM, EVALUATOR, BULK_INFERRER)
