"""`make bench`: the default pipeline cold, re-run (after the cold run's push the drift check runs again) and
unchanged (nothing to run), with per-component wall times from MLMD.

Where the development machines keep TFX's own taxi example beside the project (bench/tfx-taxi-reference in
the shared folder), it runs first, cold and re-run, on the same machine, so that the figures compare as
ratios measured back to back (the machine is shared and noisy: absolute seconds from different days do not).

    python bench/bench.py [CONFIG] [--reference-mode multi_processing|in_memory|none]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

PROJECT = Path(__file__).resolve().parent.parent
REFERENCE = PROJECT.parent / "shared" / "bench" / "tfx-taxi-reference"


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT)
    return time.monotonic() - start, result


def run_pipeline(config: str, output_root: str) -> float:
    seconds, result = timed([sys.executable, "-m", "pipelines.cli", "run", config, "--set", f"output_root={output_root}"])
    if result.returncode != 0:
        sys.exit(f"pipeline run failed:\n{result.stdout}\n{result.stderr[-3000:]}")
    return seconds


def run_reference(mode: str) -> tuple[Optional[float], Optional[float]]:
    """TFX's taxi example, cold then unchanged (its own cache), in the given Beam mode: (cold, re-run) seconds."""
    print(f"TFX's taxi example ({mode}), cold and re-run ...", flush=True)
    result = subprocess.run([str(REFERENCE), sys.executable, mode], capture_output=True, text=True, cwd=PROJECT,
                            env={**os.environ, "RERUN": "1"})
    print(f"  {result.stdout.strip() or result.stderr[-500:]}".replace("\n", "\n  "), flush=True)
    found = [float(x) for x in re.findall(r"([\d.]+) s wall", result.stdout)]
    return (found + [None, None])[0], (found + [None, None])[1]


def ratio(ours: float, theirs: Optional[float]) -> str:
    return f"{ours:.1f} / {theirs:.1f} s = {ours / theirs:.2f}" if theirs else f"{ours:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config", nargs="?", default=str(PROJECT / "configs" / "taxi.yaml"))
    parser.add_argument("--reference-mode", default="multi_processing", choices=["in_memory", "multi_processing", "none"],
                        help="TFX's example as it ships runs multi_processing")
    args = parser.parse_args()

    reference_cold = reference_rerun = None
    if args.reference_mode != "none" and REFERENCE.exists():
        reference_cold, reference_rerun = run_reference(args.reference_mode)

    from pipelines.config import load_config
    from pipelines.metadata import runs
    from pipelines.metadata.store import open_reader

    output_root = tempfile.mkdtemp(prefix="mlops-bench-")
    try:
        print("this project: cold, re-run, unchanged ...", flush=True)
        cold = run_pipeline(args.config, output_root)
        warm = run_pipeline(args.config, output_root)
        unchanged = run_pipeline(args.config, output_root)

        cfg = load_config(args.config, [f"output_root={output_root}"])
        reader = open_reader(cfg)
        first, second = [runs.read_run_summary(reader, run.name) for run in reader.run_contexts()[-2:]]
        print(f"\n{'component':<32} {'cold':>9} {'re-run':>16}")
        for a in first.components:
            b = second.component(a.node)
            print(f"{a.node:<32} {a.seconds:8.1f}s {b.seconds:8.1f}s {b.state:>7}")
        print(f"{'components, start to end':<32} {first.total_seconds:8.1f}s {second.total_seconds:8.1f}s")
        reused = sum(c.state == "cached" for c in second.components)
        print(f"\nre-run: {reused} of {len(second.components)} executions from cache (resolvers always resolve anew; "
              "the cold run's push changed what is served, so the drift check and the gate ran again); "
              f"the third run found nothing changed and ran nothing ({len(reader.run_contexts())} runs recorded)")
        print(f"\nwall, process start to end (this project / TFX's example, {args.reference_mode}):")
        print(f"  cold                              {ratio(cold, reference_cold)}")
        print(f"  re-run after the push             {ratio(warm, reference_rerun)}")
        print(f"  unchanged (nothing to run)        {ratio(unchanged, reference_rerun)}")
    finally:
        shutil.rmtree(output_root, ignore_errors=True)


if __name__ == "__main__":
    main()
