"""Where it runs: ML Metadata (SQLite or MySQL), the runner, Beam, retries, and Kubeflow with its schedule's
cron parser."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Optional, Union

from pydantic import Field, PositiveFloat, field_validator, model_validator

from pipelines.config.base import _Strict
from pipelines.shared import component_ids


class MySqlSslConfig(_Strict):
    key: Optional[str] = None
    cert: Optional[str] = None
    ca: Optional[str] = None
    capath: Optional[str] = None
    cipher: Optional[str] = None
    verify_server_cert: bool = False


class MySqlConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(3306, ge=1, le=65535)
    database: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    user: str
    password_env: Optional[str] = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                        description="name of the environment variable holding the password "
                                                    "(letters, digits and '_'; never the password itself)")
    socket: Optional[str] = Field(None, description="unix socket path; used instead of host and port")
    ssl: Optional[MySqlSslConfig] = None

    @field_validator("host")
    @classmethod
    def _not_localhost(cls, host: str) -> str:
        if host == "localhost":
            raise ValueError("MySQL's client takes 'localhost' to mean its default unix socket, not TCP: "
                             "use 127.0.0.1, or set socket to the server's socket path")
        return host


class MetadataConfig(_Strict):
    backend: Literal["sqlite", "mysql"] = "sqlite"
    sqlite_path: Optional[str] = Field(None, description="default: <output_root>/metadata.sqlite")
    mysql: Optional[MySqlConfig] = None

    @model_validator(mode="after")
    def _mysql_needs_its_section(self) -> "MetadataConfig":
        if self.backend == "mysql" and self.mysql is None:
            raise ValueError("backend mysql needs a mysql section (host, port, database, user, password_env)")
        return self


BeamMode = Literal["auto", "in_memory", "multi_processing"]

SECRET_WORDS = ("password", "passwd", "secret", "token", "credential", "key_env", "key_file")


def no_secret_args(args: list[str]) -> list[str]:
    """Beam arguments end up in logs and in the compiled Kubeflow spec, which anyone who can read the
    cluster's pipelines can read: a flag that carries a secret is refused (its value is not repeated)."""
    for arg in args:
        flag = arg.split("=", 1)[0].lower()
        if any(word in flag for word in SECRET_WORDS):
            raise ValueError(f"{flag} looks like a secret: Beam arguments are written into logs and the compiled "
                             "spec; give credentials to the workers through their service account or environment")
    return args


def known_beam_components(per_component: dict) -> dict:
    unknown = sorted(set(per_component) - set(component_ids.WITH_BEAM))
    if unknown:
        raise ValueError(f"unknown components {unknown}; the Beam components are {', '.join(component_ids.WITH_BEAM)}")
    return per_component


# Measured with make bench-scale at 14, 28 and 112 MiB of CSV (README), two workers against one process:
# the Evaluator breaks even near 18 MiB, Transform near 40; StatisticsGen was faster in-process at every size.
MULTI_PROCESSING_ABOVE_MB: dict[str, Optional[float]] = {component_ids.STATISTICS_GEN: None, component_ids.TRANSFORM: 40.0,
                             component_ids.EVALUATOR: 20.0, component_ids.BULK_INFERRER: None}  # the last: not measured


class BeamConfig(_Strict):
    """Beam's DirectRunner: `auto` runs in-process for small data, since start-up dominates there."""

    mode: BeamMode = "auto"
    modes: dict[str, BeamMode] = Field(default_factory=dict, description="per Beam component id, instead of mode")
    workers: Optional[int] = Field(None, ge=1, description="multi_processing workers; default: CPU count")
    multi_processing_above_mb: Union[PositiveFloat, dict[str, Optional[PositiveFloat]]] = Field(
        default_factory=lambda: dict(MULTI_PROCESSING_ABOVE_MB),
        description="auto: input size from which a component runs multi_processing (null: never); one number "
                    "for all, or per Beam component id (the others keep their measured defaults)")
    extra_args: list[str] = Field(default_factory=list, description="passed to Beam unchanged")

    @field_validator("modes")
    @classmethod
    def _beam_components(cls, modes: dict) -> dict:
        return known_beam_components(modes)

    @field_validator("multi_processing_above_mb")
    @classmethod
    def _per_component(cls, above) -> dict:
        if not isinstance(above, dict):
            return {node: above for node in component_ids.WITH_BEAM}
        return {**MULTI_PROCESSING_ABOVE_MB, **known_beam_components(above)}

    @field_validator("extra_args")
    @classmethod
    def _no_secrets(cls, args: list[str]) -> list[str]:
        return no_secret_args(args)


class RetryConfig(_Strict):
    """A failed component is tried again: locally in a new run that reuses every completed execution from
    cache; on Kubeflow by each task's retry policy (the backoff doubles from backoff_seconds, up to an hour).
    A run the data gate stopped is never retried: the data would not change."""

    default: int = Field(0, ge=0, le=10, description="retries of any component")
    components: dict[str, Annotated[int, Field(ge=0, le=10)]] = Field(
        default_factory=dict, description="retries per component id, instead of default")
    backoff_seconds: float = Field(30, ge=0, le=3600)

    @field_validator("components")
    @classmethod
    def _known_components(cls, components: dict) -> dict:
        unknown = sorted(set(components) - set(component_ids.WITH_RESOURCES))
        if unknown:
            raise ValueError(f"unknown components {unknown}; components are {', '.join(component_ids.WITH_RESOURCES)}")
        return components

    def for_component(self, node: str) -> int:
        return self.components.get(node, self.default)


class RunnerConfig(_Strict):
    enable_cache: bool = True
    parallel_components: int = Field(
        2, ge=1, le=16, description="local runs: how many components run side by side once nothing they need is "
                                    "unfinished, those others wait for first (after the Trainer: the Evaluator and "
                                    "InfraValidator, then FeatureImportance); 1 runs one at a time, as TFX's "
                                    "LocalDagRunner")
    beam: BeamConfig = Field(default_factory=BeamConfig)
    retries: RetryConfig = Field(default_factory=RetryConfig)


class ResourceConfig(_Strict):
    cpu: Optional[float] = Field(None, gt=0, description="vCPU limit")
    memory_gb: Optional[float] = Field(None, gt=0, description="memory limit in GB")
    gpu: int = Field(0, ge=0, description="GPUs (Trainer and Tuner only)")
    gpu_type: str = Field("nvidia.com/gpu", description="accelerator resource name")


MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")

CRON_FIELDS = (("seconds", 0, 59, ()), ("minutes", 0, 59, ()), ("hours", 0, 23, ()), ("day of month", 1, 31, ()),
               ("month", 1, 12, MONTH_NAMES), ("day of week", 0, 6, DAY_NAMES))


DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def cron_values(text: str, low: int, high: int, names: tuple) -> set[int]:
    """The values a (valid) cron field matches: '*/15' -> {0, 15, 30, 45}, 'FEB' -> {2}."""
    def number(bound: str) -> int:
        return int(bound) if bound.isdigit() else names.index(bound.upper()) + (1 if low == 1 else 0)

    found: set[int] = set()
    for part in text.split(","):
        base, _, step = part.partition("/")
        if base in ("*", "?"):
            first, last = low, high
        else:
            bounds = base.split("-")
            first, last = number(bounds[0]), number(bounds[-1])
            if step and len(bounds) == 1:
                last = high
        found.update(range(first, last + 1, int(step) if step else 1))
    return found


def cron_field_ok(text: str, low: int, high: int, names: tuple) -> bool:
    """One field of KFP's cron (robfig/cron): *, ?, values, names, ranges a-b, steps /n, lists a,b."""
    for part in text.split(","):
        base, slash, step = part.partition("/")
        if slash and not step.isdigit():
            return False
        if base in ("*", "?"):
            continue
        for bound in base.split("-"):
            if bound.isdigit():
                if not low <= int(bound) <= high:
                    return False
            elif bound.upper() not in names:
                return False
    return True


class ScheduleConfig(_Strict):
    cron: str = Field(description="6 fields, seconds first: '0 0 3 * * *' is every day at 03:00")
    max_concurrency: int = Field(1, ge=1)
    catchup: bool = Field(False, description="backfill the intervals missed while paused")

    @field_validator("cron")
    @classmethod
    def _six_fields(cls, cron: str) -> str:
        fields = cron.split()
        if len(fields) != 6:
            raise ValueError(f"Kubeflow's cron has 6 fields, seconds first (e.g. '0 0 3 * * *'); "
                             f"{cron!r} has {len(fields)}")
        for (what, low, high, names), text in zip(CRON_FIELDS, fields):
            if not cron_field_ok(text, low, high, names):
                raise ValueError(f"{cron!r}: the {what} field {text!r} is not a cron field ({what}: {low}-{high}"
                                 f"{', names ' + '/'.join(names[:2]) + '...' if names else ''}; *, ?, a-b, */n, a,b)")
        days, months = (cron_values(text, low, high, names) for (_, low, high, names), text in
                        zip(CRON_FIELDS[3:5], fields[3:5]))
        if fields[3] not in ("*", "?") and not any(day <= DAYS_IN_MONTH[month - 1] for day in days for month in months):
            raise ValueError(f"{cron!r} never fires: no month of {fields[4]!r} has a day {fields[3]!r}")
        return cron


class KubeflowConfig(_Strict):
    """Where and how the pipeline runs on Kubeflow Pipelines 2.x (ML Metadata is the cluster's)."""

    image: str = Field(description="built from docker/Dockerfile")
    pipeline_root: str = Field(pattern=r"^[a-z0-9]+://", description="object-store URI for artifacts, e.g. gs://bucket/root")
    data_path: str = Field(description="the CSV folder as the pods see it: an object-store URI or a path in the image")
    serving_dir: str = Field(description="where Pusher pushes, as the pods see it")
    beam_args: list[str] = Field(default_factory=list, description="for the Beam components, passed unchanged "
                                                                    "(e.g. --runner=DataflowRunner ...)")
    component_beam_args: dict[str, list[str]] = Field(
        default_factory=dict, description="per Beam component id, instead of beam_args (e.g. Dataflow for one)")
    resources: dict[str, ResourceConfig] = Field(default_factory=dict, description="per component id")
    schedule: Optional[ScheduleConfig] = None
    endpoint: Optional[str] = Field(None, description="KFP API endpoint, e.g. https://kfp.example.com")
    token_env: Optional[str] = Field(None, description="environment variable holding the bearer token")
    experiment: str = "Default"

    @field_validator("beam_args")
    @classmethod
    def _no_secrets(cls, args: list[str]) -> list[str]:
        return no_secret_args(args)

    @field_validator("component_beam_args")
    @classmethod
    def _beam_components(cls, per_component: dict) -> dict:
        for args in per_component.values():
            no_secret_args(args)
        return known_beam_components(per_component)

    def beam_args_for(self, node: str) -> list[str]:
        return self.component_beam_args.get(node, self.beam_args)

    @field_validator("resources")
    @classmethod
    def _known_components(cls, resources: dict) -> dict:
        for name, spec in resources.items():
            if name not in component_ids.WITH_RESOURCES:
                raise ValueError(f"resources: unknown component {name!r}; components are "
                                 f"{', '.join(component_ids.WITH_RESOURCES)}")
            if spec.gpu and name not in component_ids.WITH_GPU:
                raise ValueError(f"resources.{name}.gpu: GPUs are for {' and '.join(component_ids.WITH_GPU)} only")
        return resources


IMAGE_PROJECT_DIR = "/pipeline"  # docker/Dockerfile copies configs/ and schemas/ here


@dataclass(frozen=True)
class Locations:
    data_dir: str
    schema_path: Optional[str]
    pipeline_root: str
    serving_dir: str
    model_server_path: Optional[str]
