"""The command table, the parser built from it, and `main`: one place that runs a command and turns what it
raises into an exit code and a line on stderr (errors.py)."""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from typing import Callable, Optional

from pipelines.cli import delivery, kubeflow, project, reading
from pipelines.cli.errors import EXIT_BAD_CONFIG, EXIT_FAILED, EXIT_OK, explain
from pipelines.config import DEFAULT_CONFIG, check_data_columns, load_config


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable            # (args, cfg) -> exit code; cfg is None when the command takes no config
    arguments: Optional[Callable[[argparse.ArgumentParser], None]] = None
    takes_config: bool = True
    checks_data: bool = False  # the data files' headers are checked first, so that a misspelt column fails now
    # What else the command's work raises that a user can act on, and its exit code (the project's own errors
    # carry theirs): the first class that matches wins.
    expected: dict = field(default_factory=dict)


READ_FAILED = {LookupError: EXIT_FAILED, OSError: EXIT_FAILED}  # no such run or version; a file not readable

COMMANDS = (
    Command("init", "write a config and a schema for a CSV file or folder", project.init_project,
            project.init_arguments, takes_config=False,
            expected={ValueError: EXIT_BAD_CONFIG, FileNotFoundError: EXIT_BAD_CONFIG, FileExistsError: EXIT_BAD_CONFIG}),
    Command("validate", "check a config without running anything", project.validate, checks_data=True),
    Command("run", "run the pipeline locally (LocalDagRunner, ML Metadata on SQLite)", project.run,
            project.run_arguments, checks_data=True),
    Command("forget", "forget the rows of IDs (right to erasure): list what held them, record the request, leave "
                      "them out of every later run (--retrain: run now)", project.forget, project.forget_arguments,
            checks_data=True),
    Command("schema", "infer a starting schema from the config's data (TFDV)", project.infer_schema,
            project.schema_arguments,
            # a file that is not readable CSV (compressed, ragged, not text) is bad input: it names file and line
            expected={FileNotFoundError: EXIT_FAILED, ValueError: EXIT_BAD_CONFIG}),
    Command("compile", "compile for Kubeflow Pipelines (YAML) or Vertex AI (JSON)", kubeflow.compile_pipeline,
            kubeflow.compile_arguments, expected={ValueError: EXIT_BAD_CONFIG}),
    Command("submit", "upload to Kubeflow Pipelines and start a run (or a schedule)", kubeflow.submit,
            kubeflow.submit_arguments),
    Command("runs", "the pipeline's runs from ML Metadata (--run ID: its components)", reading.runs,
            reading.runs_arguments, expected=READ_FAILED),
    Command("lineage", "where a pushed model came from, or what came from an input", reading.lineage,
            reading.lineage_arguments, expected=READ_FAILED),
    Command("models", "pushed model versions, with the labels they are served under", reading.models,
            expected=READ_FAILED),
    Command("serve", "serve the pushed versions under their labels (TF Serving's gRPC API)", delivery.serve,
            expected={LookupError: EXIT_FAILED}),
    Command("rollout", "canary a version, promote it, or abort (on the running server)", delivery.rollout,
            delivery.rollout_arguments, expected={LookupError: EXIT_FAILED}),
    Command("rollback", "move the stable label back to an earlier version", delivery.rollback,
            delivery.rollback_arguments, expected={LookupError: EXIT_FAILED}),
    Command("predict", "score a CSV file or folder with the served stable version: BulkInferrer (default) or the "
                       "running server (--online)", delivery.predict, delivery.predict_arguments,
            expected={LookupError: EXIT_FAILED, RuntimeError: EXIT_FAILED, OSError: EXIT_FAILED,
                      ValueError: EXIT_FAILED}),
    Command("explain", "per-row feature attributions for a CSV file or folder, with its IDs, from the served "
                       "stable version (--online: the running server)", delivery.explain, delivery.explain_arguments,
            expected={LookupError: EXIT_FAILED, RuntimeError: EXIT_FAILED, OSError: EXIT_FAILED,
                      ValueError: EXIT_FAILED}),
    Command("report", "write a run's report: one self-contained HTML page", reading.report, reading.report_arguments,
            expected=READ_FAILED),
    Command("monitor", "serving data against the served model's training data (skew); exit 1 when a feature is "
                       "over its threshold", delivery.monitor, delivery.monitor_arguments,
            expected={LookupError: EXIT_FAILED, OSError: EXIT_FAILED, ValueError: EXIT_FAILED}),
)


def parser() -> argparse.ArgumentParser:
    import pipelines.cli as cli

    top = argparse.ArgumentParser(prog="mlops", description=cli.__doc__.split("\n\n")[0] + "\n\n" + EXIT_CODES,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help)
        if command.takes_config:  # first: CONFIG is the first positional argument of every command that takes one
            sub.add_argument("config", nargs="?", default=str(DEFAULT_CONFIG),
                             help="pipeline config (default: this project's configs/taxi.yaml)")
            sub.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                             help="override a config field, e.g. --set model.train_steps=200 (repeatable)")
        if command.arguments:
            command.arguments(sub)
    return top


EXIT_CODES = """Exit codes: 0 done (a pipeline run completed, blessed or not); 1 a gate stopped the run, a component
failed, `mlops monitor` found skew, a rollout or a prediction could not be made, or a server (MySQL, KFP,
the model server) could not be used; 2 the config or an input is bad (nothing ran)."""


def main(argv: list[str] | None = None) -> int:
    command, args = parse(argv)
    try:
        return execute(command, args)
    except BrokenPipeError:  # `mlops runs | head`: the reader left; nothing more to say, and no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit would fail again otherwise
        return EXIT_OK
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_FAILED
    except Exception as e:  # noqa: BLE001 - errors become one line and an exit code, in one place
        return explain(e, command.expected)


def console_main() -> None:
    """`mlops` and `python -m pipelines.cli`."""
    exit_without_teardown(main())


def exit_without_teardown(code: int) -> None:
    """Ends the process once a command is done. After TensorFlow was loaded, Python's own teardown of its
    modules and objects takes about 2 s and adds nothing (TensorFlow's objects even print tracebacks from
    __del__ as its modules go), so the process exits without it, exit handlers run first as they would;
    unless a thread of the command's still runs."""
    import atexit
    import contextlib
    import logging
    import threading

    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if "tensorflow" not in sys.modules or others:
        sys.exit(code)
    atexit._run_exitfuncs()  # noqa: SLF001 (what sys.exit would run: logging's flush, tempfile clean-up, ...)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BrokenPipeError, ValueError):  # the reader left, or the stream is closed
            stream.flush()
    os._exit(code)


def run_command(argv: list[str] | None = None) -> int:
    """A command without main()'s guard: what it raises propagates."""
    return execute(*parse(argv))


def parse(argv: list[str] | None) -> tuple[Command, argparse.Namespace]:
    args = parser().parse_args(argv)
    return next(c for c in COMMANDS if c.name == args.command), args


def execute(command: Command, args: argparse.Namespace) -> int:
    if not command.takes_config:
        return command.run(args, None)
    if getattr(args, "no_baseline", False):
        args.overrides.append("evaluation.baseline=none")
    cfg = load_config(args.config, args.overrides)
    if command.checks_data:
        check_data_columns(cfg)
    return command.run(args, cfg)
