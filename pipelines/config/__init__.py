"""The pipeline config: YAML validated by pydantic, one module per section group.

Importing it must stay cheap (no TensorFlow): `mlops validate` uses it alone. Relative paths in a config are
relative to the config file's own folder, so a config means the same thing from any working directory.

base.py          ConfigError, the strict base model, `package://` paths
data.py          data, label and features
training.py      model and tuning; the parts Transform and the Trainer receive (FeaturesConfig, TrainingConfig)
checks.py        evaluation thresholds, drift and skew comparators, infra validation
delivery.py      push, serving, batch inference
privacy.py       pseudonymised, dropped and personal columns, the key's source, k-anonymity
platform.py      metadata store, runner, Beam, retries, Kubeflow and its schedule (cron)
pipeline.py      PipelineConfig: the whole config and what is derived from it
loading.py       load_config, `--set` overrides, error messages naming file and field
data_checks.py   the config against its data files' headers and its schema file
describe.py      what `mlops validate` prints
"""
from pipelines.config.base import DEFAULT_CONFIG, ConfigError
from pipelines.config.data import BINARY, DEFAULT_METRICS, FEATURE_KINDS, FITTING_METRICS, MULTICLASS, REGRESSION, Feature
from pipelines.config.data_checks import check_data_columns
from pipelines.config.describe import describe
from pipelines.config.loading import (
    features_config_from_json,
    load_config,
    load_config_from_environment,
    training_config_from_json,
)
from pipelines.config.pipeline import PipelineConfig
from pipelines.config.training import FeaturesConfig, TrainingConfig

__all__ = [
    "BINARY", "DEFAULT_CONFIG", "DEFAULT_METRICS", "FEATURE_KINDS", "FITTING_METRICS", "MULTICLASS", "REGRESSION",
    "ConfigError", "Feature", "FeaturesConfig", "PipelineConfig", "TrainingConfig", "check_data_columns", "describe",
    "features_config_from_json", "load_config", "load_config_from_environment", "training_config_from_json",
]
