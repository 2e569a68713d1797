"""ML Metadata on a real MariaDB server, which `make test` starts on 127.0.0.1 and stops afterwards.

Run outside `make test`, these tests are skipped: there is no server to talk to.
"""
import os
import subprocess
import sys
import time
import uuid

import pytest

from helpers import PROJECT, TIMEOUT, make_config, mlops, package_csv, small_csv, summary_of, versions

PORT = os.environ.get("MLOPS_TEST_MYSQL_PORT")
PASSWORD = os.environ.get("MLOPS_TEST_MYSQL_PASSWORD", "")
pytestmark = pytest.mark.skipif(not PORT, reason="no MariaDB: `make test` starts one (MLOPS_TEST_MYSQL_PORT)")


def mysql_settings(database: str, **changes) -> dict:
    settings = {"metadata__backend": "mysql", "metadata__mysql": {
        "host": "127.0.0.1", "port": int(PORT or 0), "database": database, "user": "mlops",
        "password_env": "MLOPS_TEST_MYSQL_PASSWORD"}}
    settings["metadata__mysql"].update(changes)
    return settings


def everything_written(work) -> bytes:
    return b"\n".join(path.read_bytes() for path in work.rglob("*")
                      if path.is_file() and path.stat().st_size < 50_000_000)


def leaked(secret: str, found) -> list[str]:
    """The forms of `secret` (raw, protobuf text, JSON, repr; see pipelines/shared/masking.py) present in `found`
    (text, or bytes as written to files)."""
    from pipelines.shared.masking import secret_forms

    data = found if isinstance(found, bytes) else found.encode()
    return [form for form in secret_forms(secret) if form.encode() in data]


@pytest.mark.parametrize("changes, expected", [
    ({"port": 9}, "MySQL mlops@127.0.0.1:9/bad: cannot connect (Connection refused)"),
    ({"password_env": "WRONG_PASSWORD"}, "the server answered but refused the login: wrong password or unknown user"),
    ({"password_env": "NOT_SET_ANYWHERE"}, "the environment variable NOT_SET_ANYWHERE (metadata.mysql.password_env) is not set"),
    ({"host": "localhost"}, "metadata.mysql.host: Value error, MySQL's client takes 'localhost' to mean its default unix socket"),
])
def test_bad_connections_fail_in_seconds_with_the_cause_and_never_the_password(tmp_path, changes, expected):
    data = small_csv("taxi", tmp_path / "data", rows=20).parent  # `run` reads the header before the store
    config = make_config("taxi", tmp_path, data, **mysql_settings("bad", **changes))
    started = time.monotonic()
    result = mlops("run", config, env={"WRONG_PASSWORD": "not-" + PASSWORD})
    assert time.monotonic() - started < 30
    assert result.returncode in (1, 2), result.stdout + result.stderr
    assert expected in result.stderr, result.stderr
    assert not leaked(PASSWORD, result.stdout + result.stderr) and not leaked("not-" + PASSWORD, result.stderr)
    assert "Traceback" not in result.stderr


def test_two_pipelines_at_once_on_one_mariadb_store(tmp_path):
    """The default (taxi) pipeline and the penguin pipeline, started together against one database."""
    database = f"shared_{uuid.uuid4().hex[:8]}"
    taxi_work, penguin_work = tmp_path / "taxi", tmp_path / "penguin"
    taxi_csv = small_csv("taxi", taxi_work / "data", rows=2000)
    penguin_data = penguin_work / "data"
    penguin_data.mkdir(parents=True)
    (penguin_data / "penguins.csv").write_text(package_csv("penguin").read_text())
    taxi = make_config("taxi", taxi_work, taxi_csv.parent, model__train_steps=30, model__eval_steps=5,
                       evaluation__thresholds__0__lower_bound=0.5, **mysql_settings(database))
    penguin = make_config("penguin", penguin_work, penguin_data, model__train_steps=60,
                          evaluation__thresholds__0__lower_bound=0.3, **mysql_settings(database))

    command = [sys.executable, "-m", "pipelines.cli", "run"]
    runs = [subprocess.Popen([*command, str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             cwd=PROJECT) for config in (taxi, penguin)]
    outputs = [run.communicate(timeout=TIMEOUT) for run in runs]
    for run, (out, err) in zip(runs, outputs):
        assert run.returncode == 0, out + err[-3000:]

    taxi_summary, penguin_summary = summary_of(taxi), summary_of(penguin)
    for summary, work in ((taxi_summary, taxi_work), (penguin_summary, penguin_work)):
        assert all(c.state == "complete" for c in summary.components), [(c.node, c.state) for c in summary.components]
        assert summary.blessed is True and summary.infra_blessed is True
        assert summary.pushed_path and len(versions(work / "out" / "serving_model")) == 1
    # Separate lineage in one store: each run's artifacts live under its own pipeline root.
    for summary, work in ((taxi_summary, taxi_work), (penguin_summary, penguin_work)):
        uris = [a.uri for c in summary.components for arts in c.outputs.values() for a in arts]
        assert uris and all(uri.startswith(str(work)) for uri in uris)
    assert taxi_summary.run_id != penguin_summary.run_id

    # No password in what was printed, logged or written (LocalDagRunner logs its connection config).
    for out, err in outputs:
        assert not leaked(PASSWORD, out + err)
    assert not leaked(PASSWORD, everything_written(tmp_path))
    assert all(ch in PASSWORD for ch in "\"'\\\tä")  # make test's password has the awkward characters
