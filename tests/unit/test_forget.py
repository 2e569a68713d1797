"""`mlops forget` as a transaction, on a real ML Metadata store (SQLite) with artifacts laid out as TFX's:
the request is recorded first, carried out after, finished by the next command when its process dies in
between, idempotent, and covers the scoring pipeline's copies of the rows; it never runs beside a run."""
import gzip

import pytest
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2 as mlmd

from pipelines.metadata import privacy, recovery
from pipelines.metadata.reader import MetadataReader
from pipelines.shared import pseudonyms
from pipelines.shared.pseudonyms import FORGOTTEN_BY

FORGOTTEN, KEPT = "a" * 32, "b" * 32  # pseudonyms as ExampleGen writes them


class Store:
    def __init__(self, path):
        config = mlmd.ConnectionConfig()
        config.sqlite.filename_uri = str(path)
        config.sqlite.connection_mode = mlmd.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        self.store = metadata_store.MetadataStore(config)
        pipeline_type = self.store.put_context_type(mlmd.ContextType(name="pipeline"))
        self.contexts = {name: self.store.put_contexts([mlmd.Context(type_id=pipeline_type, name=name)])[0]
                         for name in ("taxi", "taxi-inference")}

    def artifact(self, type_name, uri, pipeline="taxi"):
        type_id = self.store.put_artifact_type(mlmd.ArtifactType(name=type_name))
        (artifact_id,) = self.store.put_artifacts([mlmd.Artifact(type_id=type_id, uri=str(uri), state=mlmd.Artifact.LIVE)])
        self.store.put_attributions_and_associations(
            [mlmd.Attribution(artifact_id=artifact_id, context_id=self.contexts[pipeline])], [])
        return artifact_id

    def get(self, artifact_id):
        return self.store.get_artifacts_by_id([artifact_id])[0]

    @property
    def reader(self):
        return MetadataReader(self.store, "taxi")


def records_file(path, *contents: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(b"".join(contents)))


@pytest.fixture
def history(tmp_path):
    store = Store(tmp_path / "metadata.sqlite")
    trained = tmp_path / "CsvExampleGen" / "examples" / "1"
    records_file(trained / "Split-train" / "data.gz", FORGOTTEN.encode(), KEPT.encode())
    pseudonyms.write_index(str(trained), {1: [FORGOTTEN, KEPT]})
    scored = tmp_path / "InferenceExampleGen" / "examples" / "2"
    records_file(scored / "Split-inference" / "data.gz", b"features" + FORGOTTEN.encode())
    results = tmp_path / "BulkInferrer" / "inference_result" / "3"
    records_file(results / "prediction_logs-00000-of-00001.gz", b"log" + FORGOTTEN.encode())
    other = tmp_path / "InferenceExampleGen" / "examples" / "4"
    records_file(other / "Split-inference" / "data.gz", KEPT.encode())
    ids = {"trained": store.artifact("Examples", trained), "scored": store.artifact("Examples", scored, "taxi-inference"),
           "results": store.artifact("InferenceResult", results, "taxi-inference"),
           "other": store.artifact("Examples", other, "taxi-inference")}
    return store, ids, {"trained": trained, "scored": scored, "results": results, "other": other}


def test_a_forget_killed_after_recording_its_intent_is_finished_by_the_next_command(history, monkeypatch):
    store, ids, folders = history
    reader = store.reader
    holders = privacy.find_holders(reader, {FORGOTTEN})

    def killed(*_):
        raise KeyboardInterrupt  # the process dies between recording the request and carrying it out

    with monkeypatch.context() as patched:
        patched.setattr(privacy, "finish_forget_request", killed)
        with pytest.raises(KeyboardInterrupt):
            privacy.record_forget_request(reader, "customer_id", [FORGOTTEN], holders)
    (request_id,) = privacy.unfinished_forget_requests(reader)
    assert (folders["trained"] / "Split-train" / "data.gz").exists()  # nothing removed yet, but the intent is there
    assert privacy.forgotten_pseudonyms(reader) == [FORGOTTEN]      # and every later ingestion leaves the rows out
    assert recovery.recover(store.store, reader, str(folders["trained"].parent), "", store_is_ours=True) == []
    assert privacy.unfinished_forget_requests(reader) == [request_id]  # recovery leaves it to be finished, not canceled

    privacy.finish_forget_request(reader, request_id)
    assert privacy.unfinished_forget_requests(reader) == []
    assert sorted(p.name for p in folders["trained"].iterdir()) == [pseudonyms.INDEX_DIR]  # the rows' files gone
    for name in ("trained", "scored", "results"):
        assert store.get(ids[name]).state == mlmd.Artifact.DELETED, name
        assert store.get(ids[name]).custom_properties[FORGOTTEN_BY].string_value == str(request_id)
    assert not folders["scored"].exists() and not folders["results"].exists()  # predict's copies of the rows too
    assert store.get(ids["other"]).state == mlmd.Artifact.LIVE and folders["other"].exists()  # nobody forgotten
    (request,) = reader.store.get_executions_by_id([request_id])
    assert request.last_known_state == mlmd.Execution.COMPLETE
    assert request.custom_properties["scoring_copies_removed"].int_value == 2

    privacy.finish_forget_request(reader, request_id)  # killed during the finish: done again, nothing twice
    assert store.get(ids["trained"]).custom_properties[FORGOTTEN_BY].string_value == str(request_id)


def test_forget_takes_the_run_lock_and_is_refused_while_a_run_holds_it(project, tmp_path):
    from pipelines.config import load_config
    from pipelines.runners import local, run_lock

    cfg = load_config(project / "configs" / "taxi.yaml", [f"output_root={tmp_path}"])
    with run_lock.RunLock(run_lock.lock_dir(cfg.pipeline_root), what="a run"):
        with pytest.raises(local.PipelineBusy, match="is already running"), local.own_run(cfg):
            pass


def test_after_a_key_rotation_requests_made_under_the_old_key_stop_runs_until_issued_again(history):
    store, _, _ = history
    reader = store.reader
    first = privacy.record_forget_request(reader, "customer_id", [FORGOTTEN], privacy.Holders(), key_id="old")
    assert privacy.requests_under_other_keys(reader, "old") == []
    assert privacy.requests_under_other_keys(reader, "new") == [first]  # its pseudonym matches nobody under "new"
    again = privacy.record_forget_request(reader, "customer_id", ["c" * 32], privacy.Holders(), key_id="new",
                                          supersedes=(first,))
    assert privacy.requests_under_other_keys(reader, "new") == []
    assert privacy.requests_under_other_keys(reader, "old") == [again]


def test_a_run_under_another_key_than_a_requests_is_refused_before_anything_runs(project, tmp_path):
    from pipelines.config import load_config
    from pipelines.metadata import store
    from pipelines.runners import local

    cfg = load_config(project / "configs" / "taxi.yaml", [
        f"output_root={tmp_path}", "privacy.pseudonymize=[company]", "batch_inference.id_column=company",
        "features=[{name: fare, kind: numeric}]", "evaluation.slices=[]"])
    reader = MetadataReader(store.open_store(cfg), cfg.name)
    records_context = reader.store.put_context_type(mlmd.ContextType(name="pipeline"))
    reader.store.put_contexts([mlmd.Context(type_id=records_context, name=cfg.name)])
    request = privacy.record_forget_request(MetadataReader(reader.store, cfg.name), "company", [FORGOTTEN],
                                            privacy.Holders(), key_id="an-earlier-key")
    with pytest.raises(pseudonyms.PseudonymKeyError, match=f"the pseudonym key changed since forget request {request}"):
        local.with_privacy_state(cfg)


@pytest.mark.parametrize("dies_at", ["remove_rows", "remove_tree", "put_artifacts", "put_executions"])
def test_a_forget_killed_at_each_step_of_carrying_it_out_is_finished_the_same_by_the_next_command(
        history, monkeypatch, dies_at):
    store, ids, folders = history
    reader = store.reader
    target = {"remove_rows": (privacy, "remove_rows"), "remove_tree": (privacy.artifact_files, "remove_tree"),
              "put_artifacts": (type(reader.store), "put_artifacts"),
              "put_executions": (type(reader.store), "put_executions")}[dies_at]
    original = getattr(*target)

    def dies(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(*target, dies)
        with pytest.raises(KeyboardInterrupt):
            privacy.record_forget_request(reader, "customer_id", [FORGOTTEN],
                                          privacy.find_holders(reader, {FORGOTTEN}))
    assert getattr(*target) is original
    (request_id,) = privacy.unfinished_forget_requests(reader)  # still to be finished, whatever was done
    privacy.finish_forget_request(reader, request_id)
    assert privacy.unfinished_forget_requests(reader) == []
    assert sorted(p.name for p in folders["trained"].iterdir()) == [pseudonyms.INDEX_DIR]
    assert [store.get(ids[n]).state for n in ("trained", "scored", "results", "other")] == [
        mlmd.Artifact.DELETED, mlmd.Artifact.DELETED, mlmd.Artifact.DELETED, mlmd.Artifact.LIVE]
    assert not folders["scored"].exists() and not folders["results"].exists() and folders["other"].exists()


def test_forget_takes_the_rows_out_of_what_predict_and_explain_wrote_under_the_output_root(project, tmp_path):
    import pyarrow.parquet as pq
    from pyarrow import csv

    from pipelines.cli.project import rows_from_outputs
    from pipelines.config import load_config
    from pipelines.shared.prediction_tables import write_table

    cfg = load_config(project / "configs" / "taxi.yaml", [f"output_root={tmp_path}"])
    rows = [{"customer_id": f"CUST-{i}", "score": i / 10} for i in range(5)]
    write_table(rows, str(tmp_path / "scored.csv"), "csv")
    write_table(rows, str(tmp_path / "why" / "attributions.parquet"), "parquet")
    write_table([{"other": 1}], str(tmp_path / "unrelated.csv"), "csv")
    inside = tmp_path / "pipeline_root" / "PredictionExport" / "x.csv"  # the pipeline's artifacts: forget's own way
    write_table(rows, str(inside), "csv")
    removed = rows_from_outputs(cfg, "customer_id", {"CUST-1", "CUST-3"})
    assert removed == {str(tmp_path / "scored.csv"): 2, str(tmp_path / "why" / "attributions.parquet"): 2}
    assert csv.read_csv(tmp_path / "scored.csv").column("customer_id").to_pylist() == ["CUST-0", "CUST-2", "CUST-4"]
    assert pq.read_table(tmp_path / "why" / "attributions.parquet").num_rows == 3
    assert csv.read_csv(inside).num_rows == 5 and rows_from_outputs(cfg, "customer_id", {"CUST-1"}) == {}
