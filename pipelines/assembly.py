"""create_pipeline(cfg): the one place where components are wired. Pure: builds, runs nothing."""
from __future__ import annotations

import json
from typing import Mapping, Optional

import tensorflow_model_analysis as tfma
from kfp.pipeline_spec import pipeline_spec_pb2 as pipeline_pb2
from tfx.components import BulkInferrer, Evaluator, ExampleValidator, SchemaGen, Trainer, Transform, Tuner
from tfx.dsl.components.common.importer import Importer
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_artifact_strategy import LatestArtifactStrategy
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.proto import bulk_inferrer_pb2, pusher_pb2, trainer_pb2, transform_pb2
from tfx.types import standard_artifacts
from tfx.types.channel import Channel

from components.atomic_pusher.component import AtomicPusher
from components.baseline_resolver.strategy import LatestBlessedOtherModelStrategy, LatestOrNoneStrategy
from components.csv_example_gen.component import fast_csv_example_gen, one_split_csv_example_gen
from components.data_gate.component import DataGate
from components.drift_check.component import DriftCheck
from components.evaluator import eval_config as batched_evaluation
from components.feature_importance.component import FeatureImportance
from components.infra_validator.component import InfraValidator
from components.modules import features as F
from components.prediction_export import component as prediction_export
from components.reference_model.component import ReferenceModel
from components.schema_importer.component import ImportSchemaGen, file_digest
from components.statistics_gen.component import StatisticsGen
from pipelines.config import BINARY, MULTICLASS, PipelineConfig
from pipelines.config.parts import (
    DataGatePart,
    DriftCheckPart,
    FeatureImportancePart,
    IngestionPrivacyPart,
    RawIdsPart,
    ReferenceModelPart,
)
from pipelines.shared import component_ids as ids
from pipelines.shared import data_files, distances, prediction_tables
from pipelines.shared.artifact_files import schema_file_value_types
from pipelines.shared.metric_names import FALSE_NEGATIVE_RATE, FALSE_POSITIVE_RATE, fairness_metric_name

MODULES = "components.modules"
PREPROCESSING_FN = f"{MODULES}.preprocessing.preprocessing_fn"
RUN_FN = f"{MODULES}.model.run_fn"
TUNER_FN = f"{MODULES}.model.tuner_fn"


def create_pipeline(cfg: PipelineConfig, beam_args: Optional[Mapping[str, list[str]]] = None,
                    metadata_connection_config=None, target: str = "local") -> tfx_pipeline.Pipeline:
    """`target`: "local" (LocalDagRunner) or "kubeflow" (KubeflowV2DagRunner, paths as the pods see them).
    `beam_args`: per Beam component id (component_ids.WITH_BEAM); each gets exactly its own."""
    where = cfg.locations(target)
    # Each component gets only its part of the config: a change elsewhere keeps its cache.
    features_config = {"config": cfg.features_json()}
    training_config = {"config": cfg.training_json()}

    # Rows without a label are left out (and counted); columns are read as the schema types them.
    example_gen = fast_csv_example_gen(where.data_dir, cfg.data.pattern, cfg.data.null_values,
                                       cfg.data.split.train, cfg.data.split.eval,
                                       cfg.data.split.eval_max_rows, cfg.data.span_window,
                                       label_columns=sorted(cfg.label.source_columns),
                                       value_types=schema_file_value_types(cfg.schema_path) if cfg.schema_path else None,
                                       privacy=ingestion_privacy(cfg), data_digest=cfg.data_digest,
                                       ).with_id(ids.EXAMPLE_GEN)
    # With a window of spans, the spans before the newest are trained on; only the newest is checked.
    earlier_spans = [data_files.EARLIER_SPANS] if cfg.data.span_window > 1 else []
    # Value counts for integer categories, which the drift check's L-infinity distance needs.
    # Personal and pseudonymised columns: counts only, no value in any statistic.
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"], exclude_splits=earlier_spans,
                                   stats_options=distances.statistics_options(cfg.features),
                                   hidden_columns=sorted(cfg.privacy.hidden)).with_id(ids.STATISTICS_GEN)
    if where.schema_path and cfg.schema_path:
        schema_gen = ImportSchemaGen(schema_file=where.schema_path, digest=file_digest(cfg.schema_path)
                                     ).with_id(ids.IMPORT_SCHEMA_GEN)
    else:
        schema_gen = SchemaGen(statistics=statistics_gen.outputs["statistics"]).with_id(ids.SCHEMA_GEN)
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    ).with_id(ids.EXAMPLE_VALIDATOR)

    # Transform analyzes the training data into the transform graph; the Trainer applies that graph to each
    # batch of raw examples it reads (as the served model does to each request) rather than reading a
    # transformed copy of every row: writing that copy was over half of Transform's time at 1M rows.
    transform = Transform(
        examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN, custom_config=features_config,
        splits_config=transform_pb2.SplitsConfig(analyze=["train", *earlier_spans]),
        materialize=False,
        disable_statistics=True,  # StatisticsGen has the raw statistics; saves ~12% of Transform's time
        # Nothing feeds an analyzer cache back in, and writing one is a Beam sink per analyzer: ~20% of
        # Transform's time on the 15k sample.
        disable_analyzer_cache=True,
    ).with_id(ids.TRANSFORM)
    drift_check = latest_push = None
    if cfg.drift.on_drift != "skip":
        # The latest push (or rollback) is an input so that the check runs again when what is served changes.
        latest_push = Resolver(
            strategy_class=LatestOrNoneStrategy if target == "local" else LatestArtifactStrategy,
            pushed_model=Channel(type=standard_artifacts.PushedModel),
        ).with_id(ids.LATEST_PUSH_RESOLVER)
        drift_check = DriftCheck(
            statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"],
            latest_push=latest_push.outputs["pushed_model"],
            serving_dir=where.serving_dir,
            config=DriftCheckPart(comparators=cfg.comparators("drift"), served_version=cfg.served_version,
                                  min_examples_fraction=cfg.drift.min_examples_fraction).model_dump_json(),
        ).with_id(ids.DRIFT_CHECK)
    data_gate = None
    if cfg.on_anomalies == "stop" or cfg.drift.on_drift == "stop" or cfg.privacy.min_k:
        data_gate = DataGate(anomalies=example_validator.outputs["anomalies"],
                             statistics=statistics_gen.outputs["statistics"],
                             drift=drift_check.outputs["drift"] if drift_check and cfg.drift.on_drift == "stop" else None,
                             examples=example_gen.outputs["examples"],
                             config=DataGatePart(check_anomalies=cfg.on_anomalies == "stop", label=cfg.label.name,
                                                 max_missing_labels=cfg.label.max_missing_fraction,
                                                 min_k=cfg.privacy.min_k).model_dump_json(),
                             ).with_id(ids.DATA_GATE)
        transform.add_upstream_node(data_gate)

    # What a quick model reaches on the same rows: gradient-boosted trees on the raw columns.
    reference_model = reference(cfg, example_gen.outputs["examples"], data_gate)

    tuner = None
    if cfg.tuning.enabled:
        tuner = Tuner(
            tuner_fn=TUNER_FN,
            examples=example_gen.outputs["examples"],
            transform_graph=transform.outputs["transform_graph"],
            schema=schema_gen.outputs["schema"],
            train_args=trainer_pb2.TrainArgs(num_steps=cfg.tuning.train_steps, splits=["train", *earlier_spans]),
            eval_args=trainer_pb2.EvalArgs(num_steps=cfg.tuning.eval_steps),
            custom_config={"config": cfg.training_json(with_tuning=True)},
        ).with_id(ids.TUNER)

    trainer = Trainer(
        run_fn=RUN_FN,
        examples=example_gen.outputs["examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        hyperparameters=tuner.outputs["best_hyperparameters"] if tuner else None,
        train_args=trainer_pb2.TrainArgs(num_steps=cfg.model.train_steps, splits=["train", *earlier_spans]),
        eval_args=trainer_pb2.EvalArgs(num_steps=cfg.model.eval_steps),
        custom_config=training_config,
    ).with_id(ids.TRAINER)

    baseline = None
    if cfg.evaluation.baseline == "latest_blessed":
        # Kubeflow's compiler knows only TFX's own strategy (two inputs, no candidate); the cluster caches.
        candidate = {"candidate": trainer.outputs["model"]} if target == "local" else {}
        baseline = Resolver(
            strategy_class=LatestBlessedOtherModelStrategy if target == "local" else LatestBlessedModelStrategy,
            model=Channel(type=standard_artifacts.Model),
            model_blessing=Channel(type=standard_artifacts.ModelBlessing),
            **candidate,
        ).with_id(ids.BASELINE_RESOLVER)

    evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline.outputs["model"] if baseline else None,  # none: the Evaluator records no baseline input
        example_splits=["eval"],
        eval_config=eval_config(cfg),
        module_path=batched_evaluation.EXTRACTORS,
    ).with_id(ids.EVALUATOR)

    # What the model relies on: attributions on a sample of the eval split, per slice, with partial dependence.
    feature_importance = FeatureImportance(
        model=trainer.outputs["model"], examples=example_gen.outputs["examples"],
        config=FeatureImportancePart(
            slices=cfg.evaluation.slices, categorical=[f.name for f in cfg.features if f.categorical],
            hidden=sorted(cfg.privacy.hidden),
            label_kind=cfg.label.head, label=cfg.label.name,
            classes=[str(c) for c in getattr(cfg.label, "classes", [])] if cfg.label.head == MULTICLASS else [],
        ).model_dump_json(),
    ).with_id(ids.FEATURE_IMPORTANCE)

    infra = cfg.infra_validation
    infra_validator = InfraValidator(
        model=trainer.outputs["model"],
        examples=example_gen.outputs["examples"],
        platform=infra.platform,
        load_and_query=infra.mode == "load_and_query",
        num_examples=infra.num_examples,
        max_loading_time_seconds=infra.max_loading_time_seconds,
        tries=infra.tries,
        model_server_path=where.model_server_path,
        memory_limit_mb=infra.memory_limit_mb,
    ).with_id(ids.INFRA_VALIDATOR)

    pusher = AtomicPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        infra_blessing=infra_validator.outputs["blessing"],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=where.serving_dir)),
        training_statistics=statistics_gen.outputs["statistics"],
        **reference_gate(cfg, reference_model, evaluator),
    ).with_id(ids.PUSHER)

    scoring = []
    if cfg.batch_inference.data and cfg.batch_inference.output:
        # Score the configured data with each newly blessed model, as the pipeline's last step.
        scoring = batch_inference(cfg, cfg.resolve(cfg.batch_inference.data), cfg.resolve(cfg.batch_inference.output),
                                  trainer.outputs["model"], evaluator.outputs["blessing"])

    components = [c for c in [example_gen, statistics_gen, schema_gen, example_validator, latest_push, drift_check,
                              data_gate, transform, tuner, trainer, reference_model, baseline, evaluator,
                              feature_importance, infra_validator, pusher, *scoring]
                  if c is not None]
    for component in components:
        if beam_args and beam_args.get(component.id):
            component.with_beam_pipeline_args(beam_args[component.id])
    if target == "kubeflow":
        resources = cfg.require_kubeflow().resources
        for component in components:
            if component.id in resources:
                component.with_platform_config(resource_spec(resources[component.id]))
    return tfx_pipeline.Pipeline(
        pipeline_name=cfg.name,
        pipeline_root=where.pipeline_root,
        components=components,
        enable_cache=cfg.runner.enable_cache,
        metadata_connection_config=metadata_connection_config)


def reference(cfg: PipelineConfig, examples, data_gate):
    """The ReferenceModel component (evaluation.reference), after the data gate when there is one."""
    if not cfg.evaluation.reference.enabled:
        return None
    component = ReferenceModel(
        examples=examples,
        config=ReferenceModelPart(features_config=cfg.features_json(), suspects=cfg.evaluation.suspects,
                                  **cfg.evaluation.reference.model_dump(exclude={"enabled"})).model_dump_json(),
    ).with_id(ids.REFERENCE_MODEL)
    if data_gate is not None:
        component.add_upstream_node(data_gate)
    return component


def reference_gate(cfg: PipelineConfig, reference_model, evaluator) -> dict:
    """The Pusher's inputs that hold back a model too far short of the reference (on_gap: stop)."""
    if reference_model is None or cfg.evaluation.reference.on_gap != "stop":
        return {}
    return {"reference": reference_model.outputs["reference"], "evaluation": evaluator.outputs["evaluation"]}


def ingestion_privacy(cfg: PipelineConfig, scoring: bool = False) -> Optional[IngestionPrivacyPart]:
    """ExampleGen's privacy part: None when the config asks nothing of ingestion (no part: the same cache key
    as before privacy existed). `scoring`: data to score, pseudonymised and dropped alike, nothing recorded."""
    privacy = cfg.privacy
    if not (privacy.pseudonymize or privacy.drop or privacy.quasi_identifiers):
        return None
    columns = {"pseudonymize": privacy.pseudonymize, "drop": privacy.drop, "key_env": privacy.key_env,
               "key_file": cfg.resolve(privacy.key_file) if privacy.key_file else None}
    if scoring:
        return IngestionPrivacyPart(**columns)
    id_column = cfg.batch_inference.id_column if cfg.batch_inference.id_column in privacy.pseudonymize else None
    return IngestionPrivacyPart(**columns, key_id=cfg.key_id, id_column=id_column,
                                forgotten=list(cfg.forgotten) if id_column else [],
                                quasi_identifiers=privacy.quasi_identifiers, small_group=privacy.small_group,
                                min_k=privacy.min_k)


def batch_inference(cfg: PipelineConfig, data: str, output: str, model, model_blessing=None,
                    value_types: Optional[dict[str, str]] = None) -> list:
    """ExampleGen on the data to score (one split), TFX's BulkInferrer on the model, and the export of its
    PredictionLogs to a CSV or Parquet file with the ID column (components/prediction_export).
    `value_types`: the model's schema types (default: the config's schema file's)."""
    if value_types is None and cfg.schema_path:
        value_types = schema_file_value_types(cfg.schema_path)
    input_base, pattern = (data, "*.csv") if not data.endswith(".csv") else data.rsplit("/", 1)
    # Without an ID column each row is numbered; a pseudonymised one is given back as the input had it.
    id_column = cfg.batch_inference.id_column or prediction_tables.ROW_COLUMN
    examples = one_split_csv_example_gen(input_base, pattern, cfg.data.null_values, prediction_export.SPLIT,
                                         value_types, ingestion_privacy(cfg, scoring=True),
                                         row_column=None if cfg.batch_inference.id_column else id_column,
                                         ).with_id(ids.INFERENCE_EXAMPLE_GEN)
    bulk_inferrer = BulkInferrer(
        examples=examples.outputs["examples"], model=model, model_blessing=model_blessing,
        data_spec=bulk_inferrer_pb2.DataSpec(example_splits=[prediction_export.SPLIT]),
        model_spec=bulk_inferrer_pb2.ModelSpec(model_signature_name=[F.SERVING_SIGNATURE]),
    ).with_id(ids.BULK_INFERRER)
    raw_ids = RawIdsPart(input_base=input_base, pattern=pattern, null_values=cfg.data.null_values,
                         key_env=cfg.privacy.key_env, key_file=cfg.resolve(cfg.privacy.key_file) if cfg.privacy.key_file
                         else None).model_dump_json() if id_column in cfg.privacy.pseudonymize else ""
    export = prediction_export.PredictionExport(
        inference_result=bulk_inferrer.outputs["inference_result"], examples=examples.outputs["examples"],
        model_blessing=model_blessing, id_column=id_column, raw_ids=raw_ids, raw_csv=int(cfg.batch_inference.raw_csv),
        file_format=cfg.batch_inference.format, destination=output,
    ).with_id(ids.PREDICTION_EXPORT)
    return [examples, bulk_inferrer, export]


def create_inference_pipeline(cfg: PipelineConfig, data: str, output: str, model_uri: str,
                              beam_args: Optional[Mapping[str, list[str]]] = None,
                              metadata_connection_config=None,
                              value_types: Optional[dict[str, str]] = None) -> tfx_pipeline.Pipeline:
    """`mlops predict`: its own small pipeline, `<name>-inference`, scoring with one chosen model (the served
    version's Trainer output, imported: ML Metadata already has it, so lineage joins the training run)."""
    model = Importer(source_uri=model_uri, artifact_type=standard_artifacts.Model,
                             reimport=False).with_id(ids.MODEL_IMPORTER)
    components = [model, *batch_inference(cfg, data, output, model.outputs["result"], value_types=value_types)]
    for component in components:
        if beam_args and beam_args.get(component.id):
            component.with_beam_pipeline_args(beam_args[component.id])
    return tfx_pipeline.Pipeline(
        pipeline_name=f"{cfg.name}-inference",
        pipeline_root=cfg.pipeline_root,
        components=components,
        enable_cache=False,  # every call scores and writes its file, whatever ran before
        metadata_connection_config=metadata_connection_config)


def resource_spec(resources) -> pipeline_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec:
    spec = pipeline_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec()
    if resources.cpu:
        spec.cpu_limit = resources.cpu
    if resources.memory_gb:
        spec.memory_limit = resources.memory_gb
    if resources.gpu:
        spec.accelerator.type, spec.accelerator.count = resources.gpu_type, resources.gpu
    return spec


# TFMA metrics computed from confusion matrices at evenly spaced thresholds (`num_thresholds`).
CURVE_METRICS = ("AUC", "AUCPrecisionRecall", "PrecisionAtRecall", "RecallAtPrecision", "SensitivityAtSpecificity",
                 "SpecificityAtSensitivity")


def eval_config(cfg: PipelineConfig) -> tfma.EvalConfig:
    """TFMA config: the label is computed by the model's transform_features signature from raw examples."""
    thresholds = {t.metric: t for t in cfg.evaluation.thresholds}
    metrics = []
    for name in cfg.evaluation.metrics or ():
        metric = tfma.MetricConfig(class_name=name)
        if name in CURVE_METRICS:
            metric.config = json.dumps({"num_thresholds": cfg.evaluation.curve_thresholds})
        if name in thresholds:  # judged on the overall slice; the other slices are reported
            metric.per_slice_thresholds.append(tfma.PerSliceMetricThreshold(
                slicing_specs=[tfma.SlicingSpec()], threshold=metric_threshold(thresholds[name])))
        metrics.append(metric)
    if cfg.label.head == MULTICLASS and "MultiClassConfusionMatrixPlot" not in (cfg.evaluation.metrics or ()):
        # Predicted (the top class) against actual classes: the report's matrix and per-class precision and recall.
        metrics.append(tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"))
    if cfg.label.head == BINARY:
        metrics += fairness_metrics(cfg.evaluation.fairness_thresholds)
        # Ten buckets of predicted probability, rebinned from the histogram AUC already computes.
        metrics.append(tfma.MetricConfig(class_name="CalibrationPlot", config=json.dumps({"num_buckets": 10})))
    if cfg.evaluation.batched and batched_evaluation.batchable(metrics):
        metrics = [batched_evaluation.batched(m) for m in metrics]
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(
            # Called through its signatures: without a type, TFMA loads each model as Keras in the Evaluator's
            # own process just to find out (120 MB of the run's largest process at 1M rows, and a second).
            model_type=tfma.TF_GENERIC,
            signature_name=F.EVALUATION_SIGNATURE,
            label_key=cfg.label.name,
            preprocessing_function_names=[F.TRANSFORM_SIGNATURE])],
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=keys) for keys in cfg.evaluation.slices],
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)],
        # Only the configured metrics: the model's compiled Keras metrics make TFMA reload the model
        # in every metrics DoFn (6 of 8 loads, ~35% of the Evaluator's time on taxi).
        options=tfma.Options(include_default_metrics={"value": False}))


def fairness_metrics(thresholds: list[float]) -> list[tfma.MetricConfig]:
    """False positive rate (TFMA's FallOut) and false negative rate (MissRate) at each decision threshold,
    one metric each so that every value is a number per slice, and the confusion matrices at those
    thresholds. At 0.5 alone they all reuse BinaryAccuracy's confusion matrices."""
    if not thresholds:  # the matrix at 0.5 still tells which slices hold one class (undefined AUC)
        return [tfma.MetricConfig(class_name="ConfusionMatrixAtThresholds", config=json.dumps({"thresholds": [0.5]}))]
    rates = [tfma.MetricConfig(class_name=class_name,
                               config=json.dumps({"thresholds": [t], "name": fairness_metric_name(kind, t)}))
             for t in thresholds for class_name, kind in (("FallOut", FALSE_POSITIVE_RATE),
                                                          ("MissRate", FALSE_NEGATIVE_RATE))]
    return rates + [tfma.MetricConfig(class_name="ConfusionMatrixAtThresholds",
                                      config=json.dumps({"thresholds": sorted(thresholds)}))]


def metric_threshold(threshold) -> tfma.MetricThreshold:
    result = tfma.MetricThreshold()
    if threshold.lower_bound is not None or threshold.upper_bound is not None:
        bounds = {}
        if threshold.lower_bound is not None:
            bounds["lower_bound"] = {"value": threshold.lower_bound}
        if threshold.upper_bound is not None:
            bounds["upper_bound"] = {"value": threshold.upper_bound}
        result.value_threshold.CopyFrom(tfma.GenericValueThreshold(**bounds))
    if threshold.change is not None:
        direction = (tfma.MetricDirection.HIGHER_IS_BETTER if threshold.change.direction == "higher_is_better"
                     else tfma.MetricDirection.LOWER_IS_BETTER)
        result.change_threshold.CopyFrom(tfma.GenericChangeThreshold(
            direction=direction, absolute={"value": threshold.change.absolute}))
    return result

