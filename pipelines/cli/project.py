"""`mlops init`, `validate`, `schema` and `run`: a config from a table, checked, and run here."""
from __future__ import annotations

import argparse
import json
import os

from pipelines.cli.errors import EXIT_FAILED, EXIT_OK
from pipelines.config import describe
from pipelines.shared.errors import MlopsError


def init_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="a CSV file, or a folder of CSV files with the same columns")
    parser.add_argument("--label", required=True, metavar="COLUMN", help="the column to predict")
    parser.add_argument("--name", help="pipeline name (default: from the file or folder name)")
    parser.add_argument("--project", default=".", help="where configs/ and schemas/ are (default: here)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing config and schema")


def schema_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, help="where to write schema.pbtxt")


def run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-baseline", action="store_true",
                        help="judge the model on its thresholds alone, not against the served one (to replace a "
                             "model that should never have been blessed); the same as --set evaluation.baseline=none")


def init_project(args, cfg=None) -> int:
    from pipelines import init_config
    from pipelines.shared.console import quiet_libraries

    with quiet_libraries():
        written = init_config.init_project(args.data, args.label, args.name, args.project, args.force)
    plan = written.plan
    print(f"wrote {written.config}\n  label: {plan.label['column']} ({plan.label['kind']}"
          + (f": {', '.join(map(str, plan.label['classes']))}" if plan.label["kind"] == "classes" else "") + ")")
    print(f"  features: {len(plan.features)} ({', '.join(sorted({f['kind'] for f in plan.features}))})")
    if plan.label_note:
        print(f"  label {plan.label['column']}: {plan.label_note}")
    for column, why in plan.left_out.items():
        print(f"  left out {column}: {why}")
    for column, why in plan.suspects.items():
        print(f"  SUSPECT {column}: {why}")
    for column, why in plan.notes.items():
        print(f"  {column}: {why}")
    print(f"wrote {written.schema} (TFDV's inference; the label's columns are not in SERVING)")
    if plan.id_column:
        print(f"  {plan.id_column} identifies rows in `mlops predict`'s output (batch_inference.id_column)")
    print(f"next: mlops run {os.path.relpath(written.config)}")
    return EXIT_OK


def validate(args, cfg) -> int:
    print(f"{args.config}: valid")
    print(json.dumps(describe(cfg), indent=2))
    return EXIT_OK


def infer_schema(args, cfg) -> int:
    from pipelines.schema_inference import write_inferred_schema
    from pipelines.shared.console import quiet_libraries

    with quiet_libraries():
        schema = write_inferred_schema(cfg, args.output)
    print(f"wrote {args.output}: {len(schema.feature)} features; curate domains, presence and ranges before use")
    return EXIT_OK


def run(args, cfg) -> int:
    from pipelines.runners import local

    try:
        report = local.run_and_report(cfg)
    except OSError as e:  # logs, run locks and artifacts are written under output_root
        raise MlopsError(f"cannot write under output_root {cfg.output_dir}: {e}") from None
    print(f"\n{report.text}", flush=True)
    print(written_report(cfg), flush=True)
    return EXIT_FAILED if report.failed else EXIT_OK


def written_report(cfg) -> str:
    """After a run: its report's path, or why there is none (the run's outcome stands either way)."""
    from pipelines.metadata.store import open_reader
    from pipelines.report import write_report
    from pipelines.shared.console import quiet_libraries

    try:
        with quiet_libraries():  # the run's log file is closed by now: keep MLMD's INFO lines off the terminal
            return f"Report: {write_report(cfg, open_reader(cfg))}"
    except LookupError:
        return "Report: none (nothing was recorded in ML Metadata)"
    except Exception as e:  # the run is done and recorded: a report that fails must not turn it into a failure
        return f"Report: not written ({type(e).__name__}: {e}); `mlops report` writes it later"
