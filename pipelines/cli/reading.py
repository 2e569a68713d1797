"""`mlops runs`, `lineage`, `models` and `report`: what ML Metadata recorded, read back."""
from __future__ import annotations

import argparse

from pipelines.cli.errors import EXIT_OK


def runs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", help="a run id from `mlops runs`")
    parser.add_argument("--compare", nargs=2, metavar=("RUN_A", "RUN_B"), help="two runs side by side")
    parser.add_argument("--html", metavar="FILE", help="with --compare: write the comparison as an HTML page")


def lineage_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="latest", help="latest, a version (1.2.0) or an artifact id")
    parser.add_argument("--from-data", help="an input file or folder: everything derived from it")
    parser.add_argument("--format", choices=["text", "json", "dot"], default="text")


def report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", help="a run id from `mlops runs` (default: the latest run)")
    parser.add_argument("-o", "--output", help="the HTML file (default: <output_root>/reports/<run>.html)")


def _answer(text: str) -> int:
    print(text)
    return EXIT_OK


def runs(args, cfg) -> int:
    from pipelines.metadata import runs as recorded_runs
    from pipelines.metadata.store import open_reader
    from pipelines.runners import run_lock

    reader = open_reader(cfg)
    if args.compare:
        from pipelines.report import compare, write_page

        run_a, run_b = args.compare
        comparison = compare.compare(reader, run_a, run_b, cfg.serving_dir)
        if args.html:
            return _answer(f"wrote {write_page(args.html, compare.render_comparison(comparison))}")
        return _answer(compare.format_comparison(comparison))
    running = bool(run_lock.live_runs(run_lock.lock_dir(cfg.pipeline_root)))
    if args.run:
        return _answer(recorded_runs.format_components(recorded_runs.read_run_summary(reader, args.run, running)))
    return _answer(recorded_runs.format_runs(cfg.name, recorded_runs.list_runs(reader, running)))


def models(args, cfg) -> int:
    from pipelines.metadata import registry
    from pipelines.metadata.rollouts import current_state
    from pipelines.metadata.store import open_reader

    reader = open_reader(cfg)
    return _answer(registry.format_versions(cfg.name, registry.model_versions(reader, cfg.serving_dir),
                                            current_state(reader)))


def report(args, cfg) -> int:
    from pipelines.metadata.store import open_reader
    from pipelines.report import write_report

    return _answer(f"wrote {write_report(cfg, open_reader(cfg), args.run, args.output)}")


def lineage(args, cfg) -> int:
    from pipelines.metadata import lineage as recorded_lineage
    from pipelines.metadata import registry
    from pipelines.metadata.store import open_reader

    reader = open_reader(cfg)
    if args.from_data:
        graph = recorded_lineage.from_data(reader, args.from_data)
        if not graph.nodes:
            raise LookupError(f"nothing in ML Metadata was read from {args.from_data}")
        if args.format == "text":
            return _answer(recorded_lineage.format_artifact_list(graph))
    else:
        pushed_id = registry.pushed_model_id(reader, args.model)
        graph = recorded_lineage.upstream(reader, pushed_id)
        if args.format == "text":
            return _answer(recorded_lineage.format_tree(graph, f"a{pushed_id}"))
    return _answer(graph.to_json() if args.format == "json" else graph.to_dot())
