"""Shared test fixtures."""
import os
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

import pipelines  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before any test module imports TensorFlow)

# A user who followed `mlops init`'s hint: the ID columns it finds are pseudonymised, which needs a key. Tests of a
# missing key use a variable of their own.
os.environ.setdefault("MLOPS_PSEUDONYM_KEY", "a-key-for-the-tests-" + "0" * 32)


@pytest.fixture
def project() -> Path:
    return PROJECT


# `make test` runs the suite on every core with pytest-xdist. Tests that share an expensive fixture run on one
# worker, so that it is built once: the taxi history (tests/e2e/conftest.py) for the modules that read it, each
# other e2e or component module's module-scoped runs. Unit tests spread one by one. (xdist's own loadgroup
# does not group under pytest 9: its test-id suffix is lost, so the scopes are set here.)
TAXI_HISTORY_MODULES = {"test_taxi", "test_registry", "test_delivery", "test_run_report"}


def work_unit(nodeid: str) -> str:
    """The scope a test is scheduled with: tests of one scope run on one worker, in order."""
    path = nodeid.split("::", 1)[0]
    if Path(path).parent.name not in ("e2e", "component"):
        return nodeid
    return "taxi-history" if Path(path).stem in TAXI_HISTORY_MODULES else path


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return SharedFixtureScheduling(config, log)
