"""Kubeflow: the compiled PipelineSpec, and `mlops submit` against a recording stand-in for the KFP API.

There is no Kubeflow cluster here. The submit tests are CONTRACT tests: a local HTTP server on
127.0.0.1 answers the KFP v2beta1 REST calls the kfp SDK makes and records them. They show what
the client sends (upload, run, recurring run with cron and concurrency, the bearer token); they do
not show that a real cluster runs the pipeline.
"""
import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from pipelines.config import ConfigError, load_config
from pipelines.runners import kubeflow

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = "s3cret-token-value"
DATAFLOW = ["--runner=DataflowRunner", "--project=p", "--region=europe-west1", "--temp_location=gs://b/tmp"]
IN_POD = ["--direct_running_mode=multi_processing", "--direct_num_workers=0"]
EXPECTED_DEPENDENCIES = {
    "CsvExampleGen": set(), "ImportSchemaGen": set(), "StatisticsGen": {"CsvExampleGen"},
    "ExampleValidator": {"ImportSchemaGen", "StatisticsGen"},
    "DriftCheck": {"ImportSchemaGen", "StatisticsGen", "latest_pushed_model_resolver"},
    "DataGate": {"CsvExampleGen", "DriftCheck", "ExampleValidator", "StatisticsGen"},
    "Transform": {"CsvExampleGen", "DataGate", "ImportSchemaGen"},
    "Trainer": {"CsvExampleGen", "ImportSchemaGen", "Transform"},  # raw examples, put through the transform graph
    "ReferenceModel": {"CsvExampleGen", "DataGate"},  # what the model is measured against, after the data gate
    "InfraValidator": {"CsvExampleGen", "Trainer"}, "FeatureImportance": {"CsvExampleGen", "Trainer"},
    "Evaluator": {"CsvExampleGen", "Trainer", "latest_blessed_model_resolver-model-resolver"},
    "Pusher": {"Evaluator", "InfraValidator", "StatisticsGen", "Trainer"},  # the statistics travel with the model
}


def compiled(project, tmp_path, *overrides, target="kubeflow", name="pipeline.yaml"):
    cfg = load_config(project / "configs" / "taxi.yaml", list(overrides))
    path = kubeflow.compile_pipeline(cfg, str(tmp_path / name), target)
    with open(path) as f:
        return yaml.safe_load(f) if path.endswith(".yaml") else json.load(f)


@pytest.fixture(scope="module")
def taxi_spec(tmp_path_factory):
    from pathlib import Path

    os.environ["KFP_TOKEN"] = os.environ["MLMD_PASSWORD"] = SECRET  # present while compiling, never compiled in
    tmp = tmp_path_factory.mktemp("kfp")
    spec = compiled(Path(PROJECT_ROOT), tmp, "kubeflow.token_env=KFP_TOKEN", "kubeflow.resources.Trainer.gpu=1",
                    f"kubeflow.beam_args={DATAFLOW}", f"kubeflow.component_beam_args={{StatisticsGen: {IN_POD}}}",
                    "metadata.backend=mysql", "metadata.mysql={host: 127.0.0.1, database: m, user: u, "
                    "password_env: MLMD_PASSWORD}",  # a local store's secret must not reach the spec either
                    "runner.retries.default=1")  # the kfp SDK must load retry policies too
    return spec, (tmp / "pipeline.yaml").read_text()


def test_schema_2_1_0_one_task_per_component_with_its_upstreams(taxi_spec):
    spec, _ = taxi_spec
    assert spec["schemaVersion"] == "2.1.0" and spec["pipelineInfo"]["name"] == "taxi"
    tasks = spec["root"]["dag"]["tasks"]
    components = {name: set(task.get("dependentTasks", [])) for name, task in tasks.items() if "resolver" not in name}
    assert components == EXPECTED_DEPENDENCIES
    assert spec["defaultPipelineRoot"] == "gs://your-bucket/tfx/taxi"


def test_every_container_runs_the_configured_image_and_the_framework_components(taxi_spec):
    spec, _ = taxi_spec
    containers = {name: e["container"] for name, e in spec["deploymentSpec"]["executors"].items() if "container" in e}
    assert {c["image"] for c in containers.values()} == {"ghcr.io/your-org/tfx-mlops:0.1.0"}
    args = " ".join(containers["InfraValidator_executor"]["args"])
    assert "components.infra_validator.executor.Executor" in args
    assert "components.atomic_pusher.executor.Executor" in " ".join(containers["Pusher_executor"]["args"])
    # The drift gate compiles: it reads the served model's statistics from the cluster's serving folder.
    assert "components.drift_check" in " ".join(containers["DriftCheck_executor"]["args"])
    assert "gs://your-bucket/serving/taxi" in json.dumps(spec["root"]["dag"]["tasks"]["DriftCheck"]["inputs"])
    # Module functions by dotted path: they run from the installed package inside the image.
    assert "components.modules.model.run_fn" in json.dumps(spec)


def beam_args_of(container: dict) -> list[str]:
    """TFX's step builder appends a task's Beam args after its input spec."""
    args = container["args"]
    return args[args.index("--json_serialized_inputs_spec_args") + 2:]


def test_each_task_carries_exactly_its_beam_args(taxi_spec):
    spec, _ = taxi_spec
    carried = {name.removesuffix("_executor"): beam_args_of(e["container"])
               for name, e in spec["deploymentSpec"]["executors"].items() if "container" in e}
    with_args = {name: args for name, args in carried.items() if args}
    assert with_args == {"StatisticsGen": IN_POD, "Transform": DATAFLOW, "Evaluator": DATAFLOW}
    assert set(carried) - set(with_args) >= {"CsvExampleGen", "Trainer", "InfraValidator", "Pusher"}


@pytest.mark.parametrize("override, message", [
    ("kubeflow.component_beam_args={Trainer: [--runner=DataflowRunner]}", "unknown components ['Trainer']"),
    ("kubeflow.beam_args=[--runner=PortableRunner, --job_server_token=abc]", "--job_server_token looks like a secret"),
])
def test_beam_args_mistakes_name_the_field(project, override, message):
    with pytest.raises(ConfigError, match=re.escape(f"kubeflow.{override.split('.')[1].split('=')[0]}: ") + ".*" +
                       re.escape(message)):
        load_config(project / "configs" / "taxi.yaml", [override])


def test_resources_apply_where_configured(taxi_spec):
    spec, _ = taxi_spec
    executors = spec["deploymentSpec"]["executors"]
    trainer = executors["Trainer_executor"]["container"]["resources"]
    assert trainer["cpuLimit"] == 4.0 and trainer["memoryLimit"] == 8.0
    assert trainer["accelerator"] == {"type": "nvidia.com/gpu", "count": "1"}
    assert executors["Transform_executor"]["container"]["resources"] == {"cpuLimit": 2.0, "memoryLimit": 8.0}
    assert "resources" not in executors["Evaluator_executor"]["container"]


def test_paths_are_as_the_pods_see_them_and_no_secret_is_compiled_in(taxi_spec):
    _, text = taxi_spec
    assert "/pipeline/data/taxi" in text and "/pipeline/schemas/taxi/schema.pbtxt" in text
    assert "gs://your-bucket/serving/taxi" in text
    assert PROJECT_ROOT not in text  # nothing of this machine's paths
    assert SECRET not in text


def test_the_kfp_sdk_loads_the_package(taxi_spec, tmp_path):
    from kfp import components

    _, text = taxi_spec
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    loaded = components.load_component_from_file(str(path))
    assert loaded.name == "taxi"
    assert set(loaded.pipeline_spec.root.dag.tasks) >= set(EXPECTED_DEPENDENCIES)


def test_batch_inference_compiles_as_the_pipelines_last_steps(project, tmp_path):
    """With batch_inference.data and .output (object-store URIs), each blessed model scores the data on the cluster."""
    spec = compiled(project, tmp_path, "batch_inference.data=gs://your-bucket/to_score",
                    "batch_inference.output=gs://your-bucket/predictions/taxi.parquet", "batch_inference.format=parquet",
                    "batch_inference.id_column=trip_id")
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks["BulkInferrer"]["dependentTasks"]) == {"InferenceExampleGen", "Trainer", "Evaluator"}
    assert set(tasks["PredictionExport"]["dependentTasks"]) == {"BulkInferrer", "InferenceExampleGen", "Evaluator"}
    export = json.dumps(tasks["PredictionExport"]["inputs"])
    assert "gs://your-bucket/predictions/taxi.parquet" in export and "trip_id" in export
    assert "gs://your-bucket/to_score" in json.dumps(tasks["InferenceExampleGen"]["inputs"])


def test_the_penguin_config_compiles_too(project, tmp_path):
    cfg = load_config(project / "configs" / "penguin.yaml")
    spec = yaml.safe_load(open(kubeflow.compile_pipeline(cfg, str(tmp_path / "penguin.yaml"))))
    assert spec["schemaVersion"] == "2.1.0" and spec["pipelineInfo"]["name"] == "penguin"
    assert set(spec["root"]["dag"]["tasks"]) >= set(EXPECTED_DEPENDENCIES)
    assert "/pipeline/data/penguin" in json.dumps(spec) and "/pipeline/schemas/penguin/schema.pbtxt" in json.dumps(spec)


def test_vertex_target_writes_a_pipeline_job_json(project, tmp_path):
    job = compiled(project, tmp_path, target="vertex", name="pipeline.json")
    assert job["pipelineSpec"]["schemaVersion"] == "2.1.0"
    assert job["runtimeConfig"]["gcsOutputDirectory"] == "gs://your-bucket/tfx/taxi"


def test_compile_refuses_a_config_without_kubeflow_section_or_the_wrong_suffix(project, tmp_path):
    cfg = load_config(project / "configs" / "penguin.yaml", ["kubeflow=null"])
    with pytest.raises(ConfigError, match="kubeflow: this config has no kubeflow section"):
        kubeflow.compile_pipeline(cfg, str(tmp_path / "p.yaml"))
    cfg = load_config(project / "configs" / "taxi.yaml")
    with pytest.raises(ValueError, match="--target kubeflow writes .yaml or .yml"):
        kubeflow.compile_pipeline(cfg, str(tmp_path / "p.json"))


@pytest.mark.parametrize("override, message", [
    ("kubeflow.schedule.cron=0 3 * * *", "kubeflow.schedule.cron: Value error, Kubeflow's cron has 6 fields"),
    ("kubeflow.resources.Transform.gpu=1", "GPUs are for Trainer and Tuner only"),
    ("kubeflow.resources.Trainerr.cpu=2", "unknown component 'Trainerr'"),
    ("kubeflow.pipeline_root=/local/path", "kubeflow.pipeline_root: String should match pattern"),
])
def test_kubeflow_config_mistakes_name_the_field(project, override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_config(project / "configs" / "taxi.yaml", [override])


# --- mlops submit: contract test against a recording KFP API stand-in ----------------------------


class RecordingKfpApi(BaseHTTPRequestHandler):
    """Answers the KFP v2beta1 REST calls kfp 2.5's Client makes; records each one."""

    calls: list = []
    pipelines: dict = {}
    fail_with: tuple | None = None

    def log_message(self, *args):
        pass

    def _answer(self, body: dict, status: int = 200):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlparse(self.path)
        call = {"method": self.command, "path": url.path, "query": parse_qs(url.query), "body": body,
                "authorization": self.headers.get("Authorization")}
        self.calls.append(call)
        return call

    def do_GET(self):
        call = self._record()
        path = call["path"]
        if path.endswith("/healthz"):
            return self._answer({"multi_user": False})
        if path == "/apis/v2beta1/pipelines":
            name = json.loads(call["query"]["filter"][0])["predicates"][0]["stringValue"]
            found = [{"pipeline_id": pid, "display_name": n} for n, pid in self.pipelines.items() if n == name]
            return self._answer({"pipelines": found, "total_size": len(found)} if found else {})
        if path.startswith("/apis/v2beta1/pipelines/") and path.endswith("/versions"):
            return self._answer({"pipeline_versions": [{"pipeline_id": "p-1", "pipeline_version_id": "v-1"}]})
        if path == "/apis/v2beta1/experiments":
            return self._answer({})
        return self._answer({"error": f"no such call {path}"}, 404)

    def do_POST(self):
        call = self._record()
        path = call["path"]
        if self.fail_with:
            status, message = self.fail_with
            return self._answer({"error": message, "code": 3, "message": message}, status)
        if path == "/apis/v2beta1/pipelines/upload":
            self.pipelines[call["query"]["name"][0]] = "p-1"
            return self._answer({"pipeline_id": "p-1", "display_name": call["query"]["name"][0]})
        if path == "/apis/v2beta1/pipelines/upload_version":
            return self._answer({"pipeline_id": "p-1", "pipeline_version_id": "v-2"})
        if path == "/apis/v2beta1/experiments":
            return self._answer({"experiment_id": "e-1", "display_name": json.loads(call["body"])["display_name"]})
        if path == "/apis/v2beta1/runs":
            return self._answer({"run_id": "r-1", **json.loads(call["body"])})
        if path == "/apis/v2beta1/recurringruns":
            return self._answer({"recurring_run_id": "rr-1", **json.loads(call["body"])})
        return self._answer({"error": f"no such call {path}"}, 404)


@pytest.fixture
def kfp_api():
    RecordingKfpApi.calls, RecordingKfpApi.pipelines, RecordingKfpApi.fail_with = [], {}, None
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingKfpApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield RecordingKfpApi, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def package(taxi_spec, tmp_path_factory):
    path = tmp_path_factory.mktemp("package") / "pipeline.yaml"
    path.write_text(taxi_spec[1])
    return path


def submit(project, endpoint, package, *extra):
    env = {**os.environ, "KFP_TOKEN": SECRET, "HOME": str(package.parent)}  # no ~/.config/kfp of the user
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "submit", str(project / "configs" / "taxi.yaml"),
                           "--package", str(package), "--set", f"kubeflow.endpoint={endpoint}",
                           "--set", "kubeflow.token_env=KFP_TOKEN", *extra],
                          capture_output=True, text=True, timeout=300, cwd=project, env=env)


def posts(api):
    return [(c["path"], c) for c in api.calls if c["method"] == "POST"]


def test_submit_uploads_the_pipeline_then_a_new_version_and_starts_runs(project, kfp_api, package):
    api, endpoint = kfp_api
    first = submit(project, endpoint, package)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "run r-1" in first.stdout
    upload = [c for p, c in posts(api) if p == "/apis/v2beta1/pipelines/upload"]
    assert len(upload) == 1 and upload[0]["query"]["name"] == ["taxi"]
    assert b"schemaVersion: 2.1.0" in upload[0]["body"]  # the package itself, multipart
    run = json.loads(next(c for p, c in posts(api) if p == "/apis/v2beta1/runs")["body"])
    assert run["pipeline_version_reference"] == {"pipeline_id": "p-1", "pipeline_version_id": "v-1"}
    assert run["experiment_id"] == "e-1" and run["runtime_config"]["pipeline_root"] == "gs://your-bucket/tfx/taxi"

    api.calls.clear()
    second = submit(project, endpoint, package)
    assert second.returncode == 0, second.stdout + second.stderr
    paths = [p for p, _ in posts(api)]
    assert "/apis/v2beta1/pipelines/upload" not in paths and "/apis/v2beta1/pipelines/upload_version" in paths
    version = next(c for p, c in posts(api) if p == "/apis/v2beta1/pipelines/upload_version")
    assert version["query"]["pipelineid"] == ["p-1"]
    run = json.loads(next(c for p, c in posts(api) if p == "/apis/v2beta1/runs")["body"])
    assert run["pipeline_version_reference"]["pipeline_version_id"] == "v-2"


def test_submit_schedule_creates_a_recurring_run_with_cron_and_concurrency(project, kfp_api, package):
    api, endpoint = kfp_api
    result = submit(project, endpoint, package, "--schedule", "--set", "kubeflow.schedule.max_concurrency=2")
    assert result.returncode == 0, result.stdout + result.stderr
    recurring = json.loads(next(c for p, c in posts(api) if p == "/apis/v2beta1/recurringruns")["body"])
    assert recurring["trigger"] == {"cron_schedule": {"cron": "0 0 3 * * *"}}
    assert recurring["max_concurrency"] == "2" or recurring["max_concurrency"] == 2
    assert recurring["no_catchup"] is True and recurring["mode"] == "ENABLE"
    assert "/apis/v2beta1/runs" not in [p for p, _ in posts(api)]
    assert "recurring run rr-1" in result.stdout


def test_the_token_is_sent_as_bearer_and_never_printed(project, kfp_api, package):
    api, endpoint = kfp_api
    result = submit(project, endpoint, package)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {c["authorization"] for c in api.calls} == {f"Bearer {SECRET}"}
    assert SECRET not in result.stdout + result.stderr


def test_server_errors_are_reported_plainly(project, kfp_api, package):
    api, endpoint = kfp_api
    api.fail_with = (403, "user is not allowed to create pipelines in namespace kubeflow")
    result = submit(project, endpoint, package)
    assert result.returncode == 1
    assert f"error: KFP server {endpoint} answered 403" in result.stderr
    assert "user is not allowed to create pipelines" in result.stderr
    assert "Traceback" not in result.stderr and SECRET not in result.stderr


def test_an_unreachable_server_is_reported_plainly(project, package):
    result = submit(project, "http://127.0.0.1:9", package)  # discard port: nothing listens
    assert result.returncode == 1
    assert "cannot reach the KFP server http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_package_file_is_named_as_such(project, tmp_path):
    result = submit(project, "http://127.0.0.1:9", tmp_path / "missing.yaml")
    assert result.returncode == 2 and "missing.yaml: no such file" in result.stderr
    assert "cannot reach" not in result.stderr and "Traceback" not in result.stderr


def test_a_missing_token_variable_is_a_config_error(project, package):
    env = {k: v for k, v in os.environ.items() if k != "KFP_TOKEN"}
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "submit", str(project / "configs" / "taxi.yaml"),
                             "--package", str(package), "--set", "kubeflow.token_env=KFP_TOKEN"],
                            capture_output=True, text=True, timeout=300, cwd=project, env=env)
    assert result.returncode == 2
    assert "kubeflow.token_env: the environment variable KFP_TOKEN is not set" in result.stderr


# --- the image --------------------------------------------------------------------------------------


def test_the_dockerfile_passes_hadolint_and_has_what_kubeflow_needs(project):
    dockerfile = project / "docker" / "Dockerfile"
    lint = subprocess.run([os.path.join(os.path.dirname(sys.executable), "hadolint"), str(dockerfile)],
                          capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    text = dockerfile.read_text()
    assert "FROM tensorflow/tfx:1.16.0" in text
    assert "TF_USE_LEGACY_KERAS=1" in text
    assert "-c constraints.txt" in text  # the same pins as `make`
    assert "/usr/bin/tensorflow_model_server /usr/local/bin/tensorflow_model_server" in text


def test_retries_become_each_tasks_retry_policy(project, tmp_path):
    spec = compiled(project, tmp_path, "runner.retries={default: 1, components: {Trainer: 3}, backoff_seconds: 20}")
    tasks = spec["root"]["dag"]["tasks"]
    assert tasks["Trainer"]["retryPolicy"] == {"maxRetryCount": 3, "backoffDuration": "20s", "backoffFactor": 2.0,
                                               "backoffMaxDuration": "3600s"}
    assert all(task["retryPolicy"]["maxRetryCount"] == 1 for name, task in tasks.items() if name != "Trainer")
    assert "retryPolicy" not in str(compiled(project, tmp_path / "none")["root"])  # none by default
    job = compiled(project, tmp_path, "runner.retries.default=2", target="vertex", name="pipeline.json")
    assert job["pipelineSpec"]["root"]["dag"]["tasks"]["Evaluator"]["retryPolicy"]["maxRetryCount"] == 2


def test_retries_name_known_components(project):
    with pytest.raises(ConfigError, match=r"runner.retries.components: Value error, unknown components \['Trainr'\]"):
        load_config(project / "configs" / "taxi.yaml", ["runner.retries.components.Trainr=1"])
