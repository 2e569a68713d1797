"""The whole config: every section, and what is derived from them (paths, comparators, each component's part)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, PrivateAttr, model_validator

from pipelines.config.base import PACKAGE_SCHEME, ConfigError, resolve_package_path
from pipelines.config.checks import DriftConfig, EvaluationConfig, InfraValidationConfig, SkewConfig
from pipelines.config.data import DEFAULT_METRICS, FITTING_METRICS, NUMERIC_KINDS, DataConfig
from pipelines.config.delivery import BatchInferenceConfig, PushConfig, ServingConfig
from pipelines.config.platform import IMAGE_PROJECT_DIR, KubeflowConfig, Locations, MetadataConfig, RunnerConfig
from pipelines.config.privacy import PrivacyConfig
from pipelines.config.training import GATE_ONLY, FeaturesConfig, ModelConfig, TrainingConfig, TuningConfig
from pipelines.shared import data_files, pseudonyms
from pipelines.shared.artifact_files import is_uri


class PipelineConfig(FeaturesConfig):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", description="lower-case letters, digits, '-' and '_'")
    output_root: str
    schema_file: Optional[str] = Field(None, description="default: schemas/<name>/schema.pbtxt beside configs/, when present")
    on_anomalies: Literal["stop", "warn"] = "stop"
    data: DataConfig
    model: ModelConfig = Field(default_factory=ModelConfig)
    tuning: TuningConfig = Field(default_factory=TuningConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    skew: SkewConfig = Field(default_factory=SkewConfig)
    infra_validation: InfraValidationConfig = Field(default_factory=InfraValidationConfig)
    push: PushConfig = Field(default_factory=PushConfig)
    serving: ServingConfig = Field(default_factory=ServingConfig)
    batch_inference: BatchInferenceConfig = Field(default_factory=BatchInferenceConfig)
    metadata: MetadataConfig = Field(default_factory=MetadataConfig)
    runner: RunnerConfig = Field(default_factory=RunnerConfig)
    kubeflow: Optional[KubeflowConfig] = None
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)

    # The file the config came from: set by load_config, never by the YAML.
    _source: Optional[str] = PrivateAttr(None)
    # Set by the runner before the pipeline is built (with_privacy_state), never by the YAML: the pseudonym
    # key's identifier and the pseudonyms of forgotten rows (ML Metadata's forget requests).
    _key_id: Optional[str] = PrivateAttr(None)
    _forgotten: tuple[str, ...] = PrivateAttr(())
    # Set by the local runner from the serving folder: the version the latest rollout serves as stable.
    _served_version: Optional[str] = PrivateAttr(None)
    # Set by the local runner: a digest of the data files' content, so that ExampleGen's cache follows the content.
    _data_digest: Optional[str] = PrivateAttr(None)

    @property
    def source(self) -> Optional[str]:
        return self._source

    @model_validator(mode="after")
    def _label_is_not_a_feature(self) -> "PipelineConfig":
        names = {f.name for f in self.features}
        if self.label.name in names:
            raise ValueError(f"label.name {self.label.name!r} is also a feature name")
        if self.label.column in names:
            raise ValueError(f"label.column {self.label.column!r} is also a feature: the model would be "
                             "given its own answer")
        unknown_suspects = sorted(set(self.evaluation.suspects) - names)
        if unknown_suspects:
            raise ValueError(f"evaluation.suspects names {unknown_suspects}, not features; features are {sorted(names)}")
        for i, slice_keys in enumerate(self.evaluation.slices):
            unknown = [k for k in slice_keys if k not in names]
            if unknown:
                raise ValueError(f"evaluation.slices[{i}] names unknown features {unknown}; features are {sorted(names)}")
        return self

    @model_validator(mode="after")
    def _private_columns_fit(self) -> "PipelineConfig":
        privacy = self.privacy
        removed = {c: "pseudonymised" for c in privacy.pseudonymize} | {c: "dropped" for c in privacy.drop}
        for i, feature in enumerate(self.features):
            if feature.name in removed:
                raise ValueError(f"features[{i}]: {feature.name!r} is {removed[feature.name]} at ingestion "
                                 f"(privacy): the model cannot learn from it; remove the feature or the privacy entry")
            if feature.name in privacy.personal and feature.has_vocabulary:
                raise ValueError(f"features[{i}]: {feature.name!r} is personal (privacy.personal) and a "
                                 "string_categorical feature, whose vocabulary file would hold its raw values: "
                                 "pseudonymise or drop it instead")
        label_removed = sorted(self.label.source_columns & set(removed))
        if label_removed:
            raise ValueError(f"privacy: the label's column {label_removed[0]!r} cannot be {removed[label_removed[0]]}")
        for i, slice_keys in enumerate(self.evaluation.slices):
            hidden = sorted(set(slice_keys) & privacy.hidden)
            if hidden:
                raise ValueError(f"evaluation.slices[{i}]: {hidden} are personal or pseudonymised (privacy): "
                                 "a slice would show their values")
        if self.batch_inference.id_column in privacy.drop:
            raise ValueError(f"batch_inference.id_column {self.batch_inference.id_column!r} is dropped at "
                             "ingestion (privacy.drop); pseudonymise it instead")
        return self

    @model_validator(mode="after")
    def _compared_features_exist(self) -> "PipelineConfig":
        kinds = {f.name: f.kind for f in self.features}
        for section in ("drift", "skew"):
            check = getattr(self, section)
            fitting = [(f"{section}.numeric", True, check.numeric), (f"{section}.categorical", False, check.categorical)]
            for name, comparator in check.features.items():
                if name not in kinds:
                    raise ValueError(f"{section}.features.{name}: not a feature; features are {sorted(kinds)}")
                if comparator is not None:
                    fitting.append((f"{section}.features.{name}", kinds[name] in NUMERIC_KINDS, comparator))
            for field_path, numeric, comparator in fitting:
                if numeric and comparator.l_infinity is not None:
                    raise ValueError(f"{field_path}: l_infinity compares categorical values (TFDV measures 0 on "
                                     "numbers); use jensen_shannon")
                if not numeric and comparator.jensen_shannon is not None:
                    raise ValueError(f"{field_path}: jensen_shannon is measured on numbers (quantiles); "
                                     "categorical values use l_infinity")
        return self

    def comparators(self, section: str) -> dict[str, tuple[str, float]]:
        """{feature: (measure, threshold)} of the drift or skew check, overrides applied, in feature order."""
        check = getattr(self, section)
        result = {}
        for feature in self.features:
            if feature.name in self.privacy.hidden:  # its statistics hold counts only: nothing to compare
                continue
            comparator = check.features.get(feature.name, check.numeric if feature.kind in NUMERIC_KINDS
                                            else check.categorical)
            if comparator is not None:
                result[feature.name] = comparator.measure()
        return result

    @model_validator(mode="after")
    def _metrics_fit_the_label(self) -> "PipelineConfig":
        head, evaluation = self.label.head, self.evaluation
        if evaluation.metrics is None:
            evaluation.metrics = list(DEFAULT_METRICS[head])
        fitting = FITTING_METRICS[head]
        for i, metric in enumerate(evaluation.metrics):
            if metric not in fitting:
                known = any(metric in names for names in FITTING_METRICS.values())
                why = f"does not fit a {head} label ({self.label.kind})" if known else "is not a known metric"
                raise ValueError(f"evaluation.metrics[{i}]: {metric!r} {why}; metrics that fit: {', '.join(fitting)}")
        for i, threshold in enumerate(evaluation.thresholds):
            if threshold.metric not in evaluation.metrics:
                raise ValueError(f"evaluation.thresholds[{i}].metric {threshold.metric!r} is not in metrics "
                                 f"{evaluation.metrics}")
        return self

    # Privacy: the key (read when needed, never stored) and what the runner learnt from ML Metadata.

    def pseudonym_key(self) -> pseudonyms.Key:
        """The pseudonym key; ConfigError naming this file, the field and the variable when it is missing."""
        key_file = self.resolve(self.privacy.key_file) if self.privacy.key_file else None
        try:
            return pseudonyms.read_key(self.privacy.key_env, key_file)
        except pseudonyms.PseudonymKeyError as e:
            raise ConfigError(f"{self.source}: {e}") from None

    def with_privacy_state(self, key_id: Optional[str], forgotten: list[str]) -> "PipelineConfig":
        """A copy carrying the key's identifier and the forgotten pseudonyms to ExampleGen's part."""
        copy = self.model_copy()
        copy._key_id, copy._forgotten = key_id, tuple(sorted(set(forgotten)))
        return copy

    def with_served_version(self, folder: Optional[str]) -> "PipelineConfig":
        """A copy carrying the served version folder to the drift check (a rollback makes it run again)."""
        copy = self.model_copy()
        copy._served_version = folder
        return copy

    def with_data_digest(self, digest: Optional[str]) -> "PipelineConfig":
        """A copy carrying the data's content digest to ExampleGen (an edit that keeps size and time re-reads it)."""
        copy = self.model_copy()
        copy._data_digest = digest
        return copy

    @property
    def data_digest(self) -> Optional[str]:
        return self._data_digest

    @property
    def served_version(self) -> Optional[str]:
        return self._served_version

    @property
    def key_id(self) -> Optional[str]:
        return self._key_id

    @property
    def forgotten(self) -> tuple[str, ...]:
        return self._forgotten

    # Paths, resolved against the config file's folder.

    def resolve(self, path: str) -> str:
        if path.startswith(PACKAGE_SCHEME):
            return resolve_package_path(path)
        if is_uri(path):  # an object-store URI (gs://, s3://): TFX's file I/O reads it as is
            return path
        base = Path(self.source).parent if self.source else Path.cwd()
        try:
            return str((base / os.path.expanduser(path)).resolve())
        except (RuntimeError, OSError, ValueError) as e:  # a symlink loop, a NUL byte
            raise ConfigError(f"{path!r}: not a usable path ({e})") from None

    @property
    def output_dir(self) -> str:
        return self.resolve(self.output_root)

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.output_dir, "pipeline_root")

    @property
    def serving_dir(self) -> str:
        return self.resolve(self.push.serving_dir) if self.push.serving_dir else os.path.join(self.output_dir, "serving_model")

    @property
    def request_log_dir(self) -> str:
        path = self.serving.request_log.dir
        return self.resolve(path) if path else os.path.join(self.output_dir, "request_logs")

    @property
    def sqlite_path(self) -> str:
        path = self.metadata.sqlite_path
        return self.resolve(path) if path else os.path.join(self.output_dir, "metadata.sqlite")

    @property
    def model_server_path(self) -> Optional[str]:
        path = self.infra_validation.model_server_path
        return self.resolve(path) if path else None

    @property
    def data_dir(self) -> str:
        return self.resolve(self.data.path)

    def input_files(self) -> list[str]:
        """The local files the next run ingests: the pattern's, or the newest span_window spans' files."""
        return data_files.input_files(self.data_dir, self.data.pattern, self.data.span_window)

    @property
    def schema_path(self) -> Optional[str]:
        """The curated schema, or None to infer one with SchemaGen."""
        if self.schema_file:
            return self.resolve(self.schema_file)
        if self.source:
            default = Path(self.source).resolve().parent.parent / "schemas" / self.name / "schema.pbtxt"
            if default.exists():
                return str(default)
        return None

    def locations(self, target: str = "local") -> "Locations":
        """Paths as the components will see them: here, or inside Kubeflow's pods (docker/Dockerfile)."""
        if target == "local":
            return Locations(self.data_dir, self.schema_path, self.pipeline_root, self.serving_dir, self.model_server_path)
        kubeflow = self.require_kubeflow()
        return Locations(kubeflow.data_path, self._schema_in_image(), kubeflow.pipeline_root,
                         kubeflow.serving_dir, self.infra_validation.model_server_path)

    def require_kubeflow(self) -> "KubeflowConfig":
        if self.kubeflow is None:
            raise ConfigError(f"{self.source}: kubeflow: this config has no kubeflow section (image, pipeline_root, ...)")
        return self.kubeflow

    def _schema_in_image(self) -> Optional[str]:
        schema = self.schema_path
        if schema is None or is_uri(schema):
            return schema
        project = Path(self.source).resolve().parent.parent if self.source else Path.cwd()
        try:
            return f"{IMAGE_PROJECT_DIR}/{Path(schema).relative_to(project)}"
        except ValueError:
            raise ConfigError(f"{self.source}: schema_file: {schema} is outside the project ({project}), so not in "
                              "the image docker/Dockerfile builds; put it under schemas/ or use an object-store URI") from None

    def features_json(self) -> str:
        return FeaturesConfig(label=self.label, features=self.features).model_dump_json(exclude=GATE_ONLY)

    def training_json(self, with_tuning: bool = False) -> str:
        return TrainingConfig(label=self.label, features=self.features, model=self.model,
                              tuning=self.tuning if with_tuning else None).model_dump_json(exclude=GATE_ONLY)
