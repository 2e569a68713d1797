"""`mlops validate`'s account of a config: what each section resolves to."""
from __future__ import annotations

from pipelines.config.data import FEATURE_KINDS
from pipelines.config.pipeline import PipelineConfig


def _thresholds(comparators: dict) -> dict:
    return {feature: f"{measure} <= {threshold:g}" for feature, (measure, threshold) in comparators.items()}


def describe(cfg: PipelineConfig) -> dict:
    """A short, JSON-friendly view for `mlops validate`."""
    return {
        "name": cfg.name,
        "data": cfg.data_dir,
        "label": cfg.label.name,
        "features": {kind: [f.name for f in cfg.features if f.kind == kind] for kind in FEATURE_KINDS},
        "schema": cfg.schema_path or "inferred by SchemaGen",
        "tuning": cfg.tuning.enabled,
        "infra_validation": f"{cfg.infra_validation.mode} on {cfg.infra_validation.platform}",
        "drift": cfg.drift.on_drift if cfg.drift.on_drift == "skip" else
        {"on_drift": cfg.drift.on_drift, "thresholds": _thresholds(cfg.comparators("drift"))},
        "skew": {"serving_data": cfg.resolve(cfg.skew.serving_data) if cfg.skew.serving_data else cfg.request_log_dir,
                 "thresholds": _thresholds(cfg.comparators("skew"))},
        "serving": {"endpoint": f"{cfg.serving.host}:{cfg.serving.port}", "model_server": cfg.serving.model_server,
                    "request_log": f"{cfg.request_log_dir} ({cfg.serving.request_log.sampling_rate:.0%})"},
        "batch_inference": cfg.batch_inference.model_dump() if cfg.batch_inference.data and cfg.batch_inference.output
        else "not in the pipeline (mlops predict DATA -o FILE)",
        "output_root": cfg.output_dir,
        **({"privacy": privacy(cfg)} if cfg.privacy.configured else {}),
    }


def privacy(cfg: PipelineConfig) -> dict:
    section = cfg.privacy
    shown = {field: getattr(section, field) for field in ("pseudonymize", "drop", "personal", "quasi_identifiers")
             if getattr(section, field)}
    if section.pseudonymize:
        shown["key"] = f"file {cfg.resolve(section.key_file)}" if section.key_file else f"${section.key_env}"
    if section.quasi_identifiers:
        shown["min_k"] = section.min_k if section.min_k else f"measured only (groups under {section.small_group} shown)"
    return shown
