"""Shared test fixtures."""
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

import pipelines  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before any test module imports TensorFlow)


@pytest.fixture
def project() -> Path:
    return PROJECT


# `make test` runs the suite on every core with pytest-xdist (--dist loadgroup). Tests that share an expensive
# fixture run on one worker, so that it is built once: the taxi history (tests/e2e/conftest.py) for the modules
# that read it, and each other e2e or component module's module-scoped runs. Unit tests spread freely.
TAXI_HISTORY_MODULES = {"test_taxi", "test_registry", "test_delivery", "test_run_report"}


def pytest_collection_modifyitems(items):
    for item in items:
        kind = Path(str(item.fspath)).parent.name
        module = Path(str(item.fspath)).stem
        if kind in ("e2e", "component"):
            group = "taxi-history" if module in TAXI_HISTORY_MODULES else f"{kind}-{module}"
            item.add_marker(pytest.mark.xdist_group(group))
