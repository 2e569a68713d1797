"""`mlops init`, `validate`, `schema`, `run` and `forget`: a config from a table, checked, run here, and
asked to forget a person's rows."""
from __future__ import annotations

import argparse
import json
import os

from pipelines.cli.errors import EXIT_FAILED, EXIT_OK
from pipelines.config import describe
from pipelines.shared.errors import MlopsError, UsageError


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
    if plan.reference_note:
        print(f"  {plan.reference_note}")
    for column, why in plan.left_out.items():
        print(f"  left out {column}: {why}")
    for column, why in plan.suspects.items():
        print(f"  SUSPECT {column}: {why}")
    for column, why in plan.notes.items():
        print(f"  {column}: {why}")
    print(f"wrote {written.schema} (TFDV's inference; the label's columns are not in SERVING)")
    if plan.id_column:
        print(f"  {plan.id_column} identifies rows in `mlops predict`'s output (batch_inference.id_column)")
    for column, (action, why) in plan.privacy.items():
        print(f"  privacy {column}: {why} -> {action}" + (" (suggested in a comment)" if action == "personal" else ""))
    if any(action == "pseudonymize" for action, _ in plan.privacy.values()):
        from pipelines.shared.pseudonyms import DEFAULT_KEY_ENV

        print(f"  pseudonyms need a key: export {DEFAULT_KEY_ENV}=$(openssl rand -hex 32), and keep it (another key "
              "gives other pseudonyms)")
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


def forget_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--id", dest="ids", action="append", required=True, metavar="VALUE",
                        help="a value of the ID column (batch_inference.id_column) whose rows to forget (repeatable)")
    parser.add_argument("--retrain", action="store_true",
                        help="then run the pipeline: a model trained without those rows is evaluated and pushed")
    parser.add_argument("--supersedes", type=int, action="append", default=[], metavar="REQUEST",
                        help="a forget request made under an earlier pseudonym key that this one issues again "
                             "(repeatable)")


def forget(args, cfg) -> int:
    """Finds what held the IDs' rows through the per-span pseudonym index, records the request in ML Metadata,
    removes the Examples' files, and with --retrain runs the pipeline, which leaves the rows out."""
    from pipelines.metadata import privacy, registry
    from pipelines.metadata.store import open_reader
    from pipelines.runners import local
    from pipelines.shared import pseudonyms

    id_column = cfg.batch_inference.id_column
    if not id_column or id_column not in cfg.privacy.pseudonymize:
        raise UsageError(f"{cfg.source}: mlops forget finds rows by the ID column's pseudonyms: set "
                         "batch_inference.id_column and list it in privacy.pseudonymize "
                         f"(now: id_column {id_column!r}, pseudonymize {cfg.privacy.pseudonymize})")
    key = cfg.pseudonym_key()
    wanted = sorted(set(pseudonyms.pseudonyms(key, [i.strip() for i in args.ids])))
    # A run's claim on the pipeline: no run reads or pushes what this request removes while it does.
    with local.own_run(cfg):
        reader = open_reader(cfg)
        holders = privacy.find_holders(reader, set(wanted))
        versions = {v.pushed_model_id: v for v in registry.model_versions(reader, cfg.serving_dir, with_metrics=False)}
        request_id = privacy.record_forget_request(reader, id_column, wanted, holders, key.key_id,
                                                   tuple(args.supersedes))
        (request,) = reader.store.get_executions_by_id([request_id])
        outputs = rows_from_outputs(cfg, id_column, {i.strip() for i in args.ids})
    print(forget_text(cfg, request_id, wanted, holders, versions,
                      request.custom_properties["scoring_copies_removed"].int_value))
    for path, rows in outputs.items():
        print(f"  removed: {rows} rows from {path} (predict's or explain's output, under the output root)")
    if not args.retrain:
        return EXIT_OK
    print("\nRetraining without them:", flush=True)
    return run(args, cfg)


def rows_from_outputs(cfg, id_column: str, ids: set[str]) -> dict[str, int]:
    """The rows of the forgotten IDs taken out of every CSV or Parquet table under the output root outside the
    pipeline's artifacts (what predict and explain wrote there carries the input's own IDs); path -> rows."""
    from pipelines.shared.prediction_tables import drop_rows_with_ids

    removed = {}
    pipeline_root = os.path.abspath(cfg.pipeline_root)
    for folder, _, names in os.walk(cfg.output_dir):
        if os.path.commonpath([os.path.abspath(folder), pipeline_root]) == pipeline_root:
            continue
        for name in names:
            if name.endswith((".csv", ".parquet")) and not name.startswith("."):
                path = os.path.join(folder, name)
                rows = drop_rows_with_ids(path, id_column, ids)
                if rows:
                    removed[path] = rows
    return removed


def forget_text(cfg, request_id: int, wanted: list[str], holders, versions: dict, scoring_copies: int = 0) -> str:
    ids = f"{len(wanted)} ID{'s' if len(wanted) != 1 else ''}"
    lines = [f"Forget request {request_id} recorded in ML Metadata ({ids} of {cfg.batch_inference.id_column}, as "
             "pseudonyms): ingestion leaves their rows out from now on"]
    missing = len(wanted) - len(holders.found)
    if missing:
        lines.append(f"  {missing} of them in no ingested span")
    for examples_id, spans in sorted(holders.spans.items()):
        where = ", ".join(f"span {span}" for span in spans)
        lines.append(f"  found in Examples {examples_id} ({where})")
    if holders.examples:
        lines.append(f"  removed: the files of {len(holders.examples)} Examples artifacts (ExampleGen's and "
                     "Transform's), marked DELETED in ML Metadata")
    if scoring_copies:
        lines.append(f"  removed: {scoring_copies} artifacts of `mlops predict` that scored their rows (examples "
                     "and BulkInferrer's results), marked DELETED in ML Metadata")
    if holders.models:
        lines.append(f"  models trained on them: {', '.join(f'Model {m.id}' for m in holders.models)}")
    held = [versions[p.id] for p in holders.pushed_models if p.id in versions]
    if held:
        lines.append("  pushed versions trained on them: " + ", ".join(
            f"{v.version}{' (' + ','.join(v.labels) + ')' if v.labels else ''}" for v in held))
        lines.append("  they stay in the serving folder until replaced: `mlops forget --retrain` (or `mlops run`) "
                     "pushes one without these rows")
    elif not holders.spans:
        lines.append("  no span, model or pushed version held them")
    lines.append("  remove the rows from the source files as well: they are left out, not deleted there")
    return "\n".join(lines)
