"""What every config module shares: the error a bad config raises, the strict base model, `package://` paths."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from pipelines.shared.errors import UsageError

PACKAGE_SCHEME = "package://"

# What `mlops` and the `tfx` CLI entry points run when no config is named.
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "taxi.yaml"

CONFIG_ENV = "MLOPS_CONFIG"  # the `tfx` CLI entry points take their config from this variable


class ConfigError(UsageError):
    """A config that cannot be used; the message names the file and the field."""


INT32_MAX = 2 ** 31 - 1  # TFX's protos hold steps, counts and seconds as int32: a larger value fails the run


class _Strict(BaseModel):
    # NaN and infinity mean nothing in any field (a threshold, a learning rate): refused everywhere.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def resolve_package_path(path: str) -> str:
    """package://tfx/examples/x -> <site-packages>/tfx/examples/x, without importing the package."""
    package, _, rest = path[len(PACKAGE_SCHEME):].partition("/")
    try:
        spec = importlib.util.find_spec(package) if all(p.isidentifier() for p in package.split(".")) else None
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"{path}: package {package!r} is not installed")
    return os.path.join(list(spec.submodule_search_locations)[0], rest)
