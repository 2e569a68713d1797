"""The run report: one self-contained HTML page per run (`mlops report`, and after each `mlops run`)."""
from __future__ import annotations

import os
from typing import Optional

from pipelines.config import PipelineConfig


def default_path(cfg: PipelineConfig, run_id: str) -> str:
    """<output_root>/reports/<run id>.html, with the run id's colons as dashes (a name any system can attach)."""
    return os.path.join(cfg.output_dir, "reports", f"{run_id.replace(':', '-')}.html")


def write_report(cfg: PipelineConfig, reader, run_id: Optional[str] = None, output: Optional[str] = None) -> str:
    """Writes the report of a run (the latest by default) and returns its path; LookupError for no such run."""
    from pipelines.report import content, page

    report = content.gather(reader, cfg.source or "(no config file)", run_id)
    return write_page(output or default_path(cfg, report.summary.run_id), page.render(report))


def write_page(path: str, html: str) -> str:
    """Written to a temporary name and renamed, so that a reader never sees half a page."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = f"{path}.partial"
    with open(partial, "w", encoding="utf-8") as f:
        f.write(html)
    os.replace(partial, path)
    return path
