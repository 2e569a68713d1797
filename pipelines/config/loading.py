"""Loading a config: YAML with no repeated key, `--set` overrides, and errors that name the file and field."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipelines.config.base import CONFIG_ENV, DEFAULT_CONFIG, ConfigError
from pipelines.config.data import FEATURE_KINDS, LABEL_KINDS
from pipelines.config.pipeline import PipelineConfig
from pipelines.config.platform import SECRET_WORDS
from pipelines.config.training import FeaturesConfig, TrainingConfig


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error (not "the last wins")."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice in this mapping", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | os.PathLike, overrides: list[str] | None = None) -> PipelineConfig:
    """Reads, overrides (`key.path=value`) and validates a config; raises ConfigError naming file and field."""
    path = str(path)
    try:
        with open(path, encoding="utf-8") as f:
            raw = yaml.load(f, Loader=_UniqueKeyLoader)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not a UTF-8 text file (byte {e.start}: {e.reason})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config") from None
    except ValueError as e:  # a NUL byte in the path, and the like
        raise ConfigError(f"{path!r}: cannot read: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    for override in overrides or []:
        apply_override(raw, override, path)
    try:
        cfg = PipelineConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(format_validation_error(path, e)) from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config") from None
    cfg._source = str(Path(path).resolve())
    for field, value in (("output_root", cfg.output_root), ("data.path", cfg.data.path)):
        try:  # every path is resolved lazily later: a bad one is named here, before anything runs
            cfg.resolve(value)
        except ConfigError as e:
            raise ConfigError(f"{path}: {field}: {e}") from None
    return cfg


def load_config_from_environment() -> PipelineConfig:
    """The config the `tfx` CLI entry points run: $MLOPS_CONFIG, else DEFAULT_CONFIG."""
    return load_config(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def features_config_from_json(text: str) -> FeaturesConfig:
    """Transform's part of the config as it arrives in custom_config, validated again."""
    return FeaturesConfig.model_validate_json(text)


def training_config_from_json(text: str) -> TrainingConfig:
    return TrainingConfig.model_validate_json(text)


def apply_override(raw: dict, override: str, path: str) -> None:
    """`model.train_steps=50` or `features.0.scaling=min_max`; the value is parsed as YAML."""
    key, sep, value_text = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"{path}: --set {key if sep else '...'}: expected key.path=value")
    shown = f"{key}=..." if any(word in key.lower() for word in SECRET_WORDS) else override
    try:
        value = yaml.safe_load(value_text) if value_text else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: --set {shown!r}: the value is not valid YAML "
                          f"({getattr(e, 'problem', None) or e}); quote it, e.g. --set '{key}=\"...\"'") from None
    except RecursionError:
        raise ConfigError(f"{path}: --set {key}: the value is nested too deeply to be a config value") from None
    node: Any = raw
    parts = key.split(".")
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"{path}: --set {key}: {where} is not an index of a list of {len(node)}")
            index: int | str = int(part)
        elif isinstance(node, dict):
            index = part
            if not last and part not in node:
                node[part] = {}
        else:
            raise ConfigError(f"{path}: --set {key}: {'.'.join(parts[:depth])} is not a mapping or list")
        if last:
            node[index] = value
        else:
            node = node[index]


def format_validation_error(path: str, error: ValidationError) -> str:
    lines = [f"{path}: invalid config ({error.error_count()} error{'s' if error.error_count() > 1 else ''})"]
    for item in error.errors():
        field = _field_path(item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif item["type"] == "missing":
            message = "required field is missing"
        got = item.get("input")
        secret = any(word in field.lower() for word in SECRET_WORDS)  # a password pasted in is never echoed
        shown = "" if item["type"] == "missing" or isinstance(got, (dict, list)) or secret else f" (got {got!r})"
        lines.append(f"  {field}: {message}{shown}")
    return "\n".join(lines)


def _field_path(loc: tuple) -> str:
    out, skipped = "", False
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in FEATURE_KINDS + LABEL_KINDS and out and not skipped:
            # pydantic puts the discriminator's value in the path (once); the YAML has no such key.
            skipped = True
            continue
        else:
            out += f".{part}" if out else str(part)
        skipped = False
    return out
