"""What happens to a blessed model: push, serving (labels, request logs) and batch inference."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from pipelines.config.base import _Strict


class PushConfig(_Strict):
    serving_dir: Optional[str] = Field(None, description="default: <output_root>/serving_model")


class RequestLogConfig(_Strict):
    """Requests and responses logged by the server as PredictionLog TFRecords (what `mlops monitor` reads)."""
    dir: Optional[str] = Field(None, description="default: <output_root>/request_logs")
    sampling_rate: float = Field(1.0, ge=0, le=1, description="the share of requests logged; 0: none")
    max_file_mb: float = Field(64, gt=0, le=1 << 20, description="a new log file past this size")
    max_total_mb: float = Field(1024, gt=0, le=1 << 30, description="the oldest log files are deleted past this "
                                                                    "size of them all")


class ServingConfig(_Strict):
    """`mlops serve` and the rollout commands: one model server (TF Serving's gRPC API) for the serving directory."""
    host: str = Field("127.0.0.1", description="where the rollout commands and clients reach the server")
    port: int = Field(8500, ge=1, le=65535, description="gRPC port")
    rest_port: int = Field(8501, ge=0, le=65535, description="REST port of the TF Serving binary (0: none); "
                                                           "the stand-in has gRPC only")
    model_server: Literal["auto", "tf_serving_binary", "local_process"] = Field(
        "auto", description="auto: tensorflow_model_server if found (infra_validation.model_server_path or PATH), "
                            "else the project's stand-in")
    request_log: RequestLogConfig = Field(default_factory=RequestLogConfig)
    load_timeout_seconds: int = Field(300, ge=1, description="how long a rollout waits for a version to be AVAILABLE")


class BatchInferenceConfig(_Strict):
    """`mlops predict`: score a file or folder with the served (stable) version, one output row per input row."""
    data: Optional[str] = Field(None, description="CSV file, or folder of CSV files, to score (or the command's DATA)")
    id_column: Optional[str] = Field(None, description="a column of the data carried to the output as the input has "
                                                       "it, to join predictions back (without one, rows are numbered)")
    format: Literal["csv", "parquet"] = "csv"
    raw_csv: bool = Field(False, description="CSV output: write text cells as they are; by default a cell starting "
                                             "with =, +, -, @, tab or CR is prefixed with ' so that no spreadsheet "
                                             "runs it as a formula (OWASP's advice)")
    output: Optional[str] = Field(None, description="the predictions file (or the command's -o)")
