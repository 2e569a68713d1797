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
