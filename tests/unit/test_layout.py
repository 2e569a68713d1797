"""The `tfx` CLI runs pipelines/local_runner.py as a script, so pipelines/ comes first on sys.path there: a
module in it named like a standard or installed top-level module would shadow it (a `secrets.py` broke
`random`, and with it TFX, in exactly that process)."""
import importlib.util
import sys
from pathlib import Path

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"


def test_no_module_directly_in_pipelines_shadows_a_top_level_one():
    names = {p.stem for p in PIPELINES.glob("*.py") if p.stem != "__init__"} | {
        p.name for p in PIPELINES.iterdir() if (p / "__init__.py").exists()}
    def elsewhere(name: str) -> bool:  # a module of that name outside pipelines/ (a test may put it on sys.path)
        spec = importlib.util.find_spec(name)
        return spec is not None and not str(spec.origin or next(iter(spec.submodule_search_locations or []), "")
                                            ).startswith(str(PIPELINES))

    shadowing = sorted(n for n in names if n in sys.stdlib_module_names or elsewhere(n))
    assert shadowing == []
