"""An unchanged re-run is answered from what the latest run read; any change to what a run reads runs it."""
import os
import textwrap

import pytest

from pipelines.config import load_config
from pipelines.runners import unchanged

CONFIG = """
name: demo
output_root: out
data: {path: data}
schema_file: schema.pbtxt
label: {kind: binary_threshold, name: big, column: tips, greater_than: 0.2, relative_to: fare}
features:
  - {name: fare, kind: numeric}
  - {name: payment_type, kind: string_categorical}
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("fare,payment_type,tips\n1,Cash,0\n")
    (tmp_path / "schema.pbtxt").write_text('feature { name: "fare" type: FLOAT }\n')
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "cfg.yaml").write_text(textwrap.dedent(CONFIG))
    return tmp_path


def digest(project, *overrides):
    return unchanged.fingerprint(load_config(project / "cfg.yaml", list(overrides)), code=[project / "code.py"])


def test_the_same_inputs_give_the_same_fingerprint_and_each_change_another(project):
    before = digest(project)
    assert before == digest(project)
    changes = []

    data = project / "data" / "a.csv"
    status = os.stat(data)
    os.utime(data, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))  # touched: the same content
    assert digest(project) == before
    with open(data, "a") as f:
        f.write("2,Card,1\n")
    changes.append(digest(project))
    (project / "data" / "b.csv").write_text("fare,payment_type,tips\n3,Cash,0\n")  # a new file
    changes.append(digest(project))
    changes.append(digest(project, "model.train_steps=7"))  # any field: some component's parameter
    (project / "schema.pbtxt").write_text('feature { name: "fare" type: INT }\n')
    changes.append(digest(project))
    (project / "code.py").write_text("x = 2\n")  # the project's code (executors, module files)
    changes.append(digest(project))
    (project / "out" / "serving_model" / "1700000000").mkdir(parents=True)  # a push: the drift check's reference
    changes.append(digest(project))
    (project / "out" / "serving_model" / "1800000000").mkdir()
    changes.append(digest(project))
    from pipelines.shared import serving_layout

    serving_layout.write_served_version(str(project / "out" / "serving_model"), 1700000000)  # a rollback to the first
    changes.append(digest(project))

    assert len({before, *changes}) == 1 + len(changes)


def test_the_served_version_is_the_one_the_latest_rollout_made_stable_else_the_highest(tmp_path):
    from pipelines.shared import serving_layout

    serving = tmp_path / "serving"
    for folder in ("1700000000", "1800000000"):
        (serving / folder).mkdir(parents=True)
    assert serving_layout.served_version_dir(str(serving)) == str(serving / "1800000000")  # TF Serving's default
    serving_layout.write_served_version(str(serving), 1700000000)
    assert serving_layout.served_version_dir(str(serving)) == str(serving / "1700000000")
    (serving / "1700000000").rmdir()  # a recorded folder that is gone is no answer
    assert serving_layout.served_version_dir(str(serving)) == str(serving / "1800000000")


def test_what_cannot_be_fingerprinted_here_always_runs(project):
    assert digest(project, "runner.enable_cache=false") is None
    assert digest(project, "data.path=gs://bucket/data") is None


class Execution:
    def __init__(self, state):
        from ml_metadata.proto import metadata_store_pb2

        self.last_known_state = getattr(metadata_store_pb2.Execution, state)


class Reader:
    def __init__(self, latest, states):
        self.latest, self.states = latest, states

    def latest_run_id(self):
        return self.latest

    def run_executions(self, run_id):
        return [Execution(s) for s in self.states]


def test_only_the_latest_run_when_it_completed_with_the_same_inputs_is_matched(project):
    cfg = load_config(project / "cfg.yaml")
    inputs = unchanged.fingerprint(cfg, code=[project / "code.py"])
    done = Reader("run-2", ["COMPLETE", "CACHED"])
    assert unchanged.matching_run(cfg, inputs, done) is None  # nothing recorded yet
    unchanged.record(cfg, inputs, "run-2")
    assert unchanged.matching_run(cfg, inputs, done) == unchanged.Match("run-2")
    assert unchanged.matching_run(cfg, "other inputs", done) is None
    assert unchanged.matching_run(cfg, inputs, Reader("run-3", ["COMPLETE"])) is None  # another run came since
    assert unchanged.matching_run(cfg, inputs, Reader("run-2", ["COMPLETE", "FAILED"])) is None
    assert unchanged.matching_run(cfg, None, done) is None
    unchanged.forget(cfg)  # a run starts: until it completes, nothing is matched
    assert unchanged.matching_run(cfg, inputs, done) is None


def test_an_edit_that_keeps_size_and_modification_time_is_seen_by_its_content(project, monkeypatch):
    data = project / "data" / "a.csv"
    before = digest(project)
    status = os.stat(data)
    data.write_text(data.read_text().replace("1,Cash,0", "1,Cash,1"))  # every label rewritten, same size
    os.utime(data, ns=(status.st_atime_ns, status.st_mtime_ns))        # and the modification time set back
    assert os.stat(data).st_size == status.st_size and os.stat(data).st_mtime_ns == status.st_mtime_ns
    assert digest(project) != before
    hashed = []
    original = unchanged.file_sha256
    monkeypatch.setattr(unchanged, "file_sha256", lambda path: hashed.append(path) or original(path))
    assert digest(project) == digest(project) and hashed == []  # nothing changed since: the digests are reused
    cfg = load_config(project / "cfg.yaml")
    assert unchanged.data_digest(cfg) and hashed == []
