"""Every test under e2e/ runs whole pipelines: marked e2e (deselect with -m "not e2e")."""
import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
