"""End-to-end helpers: small copies of the shipped data, a config per test, the real `mlops` CLI."""
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[2]
TIMEOUT = 900


def package_csv(config_name: str) -> Path:
    from pipelines.config import load_config

    cfg = load_config(PROJECT / "configs" / f"{config_name}.yaml")
    return sorted(Path(cfg.data_dir).glob(cfg.data.pattern))[0]


def small_csv(config_name: str, directory: Path, rows: int, edit=None) -> Path:
    """The first `rows` rows of a shipped dataset; `edit(header, lines)` may corrupt them."""
    lines = package_csv(config_name).read_text().splitlines()
    header, body = lines[0], lines[1: rows + 1]
    if edit:
        header, body = edit(header, body)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "data.csv"
    path.write_text("\n".join([header, *body]) + "\n")
    return path


def make_config(config_name: str, work: Path, data_dir: Path, **changes) -> Path:
    """The shipped config with the test's data, output folder, schema and overrides (dotted keys)."""
    raw = yaml.safe_load((PROJECT / "configs" / f"{config_name}.yaml").read_text())
    raw["data"]["path"] = str(data_dir)
    raw["data"].pop("pattern", None)
    raw["output_root"] = str(work / "out")
    raw["schema_file"] = str(PROJECT / "schemas" / config_name / "schema.pbtxt")
    for key, value in changes.items():
        node = raw
        *parents, last = key.split("__")
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        node[last] = value
    path = work / f"{config_name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def mlops(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=PROJECT, env={**os.environ, **(env or {})})


def reader_of(config_path: Path):
    """A MetadataReader on the config's store, for its pipeline."""
    from pipelines.config import load_config
    from pipelines.metadata.store import open_reader

    return open_reader(load_config(config_path))


def init_and_run(work: Path, frame, name: str, label: str = "target", *run_args):
    """A table written as data/<name>.csv, `mlops init` on it (which must succeed), then `mlops run` of the config
    it wrote (with `run_args`); returns (config, csv path, init's result, run's result)."""
    data = work / "data"
    data.mkdir(parents=True)
    frame.to_csv(data / f"{name}.csv", index=False)
    init = mlops("init", data / f"{name}.csv", f"--label={label}", "--project", work)
    assert init.returncode == 0, init.stdout + init.stderr[-3000:]
    config = work / "configs" / f"{name}.yaml"
    return config, data / f"{name}.csv", init, mlops("run", config, *run_args)


def summary_of(config_path: Path, run_id=None):
    """What a run recorded (the latest by default)."""
    from pipelines.metadata.runs import read_run_summary

    return read_run_summary(reader_of(config_path), run_id)


def importance_of(config_path: Path, run_id=None) -> dict:
    """The FeatureImportance summary a run recorded (the latest by default)."""
    from pipelines.shared import component_ids, importance

    artifact = summary_of(config_path, run_id).output(component_ids.FEATURE_IMPORTANCE, "feature_importance")
    assert artifact is not None, "the run recorded no feature importance"
    return importance.read(artifact.uri)


def report_path(run_stdout: str) -> Path:
    """The report a run wrote, from its summary's `Report: <path>` line."""
    line = next(line for line in run_stdout.splitlines() if line.startswith("Report: "))
    return Path(line.removeprefix("Report: ").strip())


def versions(serving_dir: Path) -> list[str]:
    """The version folders (TF Serving loads all-digit names only)."""
    return sorted(p.name for p in serving_dir.iterdir() if p.name.isdigit()) if serving_dir.exists() else []


PREDICT = """
import json, sys
from pipelines.shared.csv_tables import read_csv, table_to_examples  # first: sets TF_USE_LEGACY_KERAS
import tensorflow as tf
model_dir, csv_path, nulls, drop, signature = (sys.argv[1], sys.argv[2], json.loads(sys.argv[3]),
                                               json.loads(sys.argv[4]), sys.argv[5])
table = read_csv(csv_path, nulls)
table = table.drop([c for c in drop if c in table.column_names]).slice(0, 20)
model = tf.saved_model.load(model_dir)
outputs = model.signatures[signature](examples=tf.constant(table_to_examples(table)))
decoded = lambda v: v.decode() if isinstance(v, bytes) else [decoded(x) for x in v] if isinstance(v, list) else v
print(json.dumps({k: decoded(v.numpy().tolist()) for k, v in outputs.items()}))
"""


def predict_in_fresh_process(model_dir: Path, csv_path: Path, null_values: list[str], drop: list[str],
                             signature: str = "serving_default") -> dict:
    """Loads the pushed SavedModel in a new interpreter and sends `signature` the first 20 rows as raw serialized
    tf.Examples; returns its outputs by name, one item (a value or a list) per row."""
    result = subprocess.run([sys.executable, "-c", PREDICT, str(model_dir), str(csv_path), json.dumps(null_values),
                             json.dumps(drop), signature], capture_output=True, text=True, timeout=300, cwd=PROJECT)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
