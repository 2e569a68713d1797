"""Shared test helpers. TF_USE_LEGACY_KERAS is set by the framework's packages on import."""
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))


@pytest.fixture
def project() -> Path:
    return PROJECT
