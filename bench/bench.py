"""`make bench`: the default pipeline cold, then unchanged, with per-component wall times from MLMD, and
what the drift check adds to a run.

When ../shared/bench/tfx-taxi-reference exists, TFX's own taxi example runs first on the same
machine, so the figures compare as ratios measured in the same session (the machine is shared
and noisy: absolute seconds from different sessions do not compare).

    python bench/bench.py [CONFIG] [--reference-mode in_memory|multi_processing|none]
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config", nargs="?", default=str(PROJECT / "configs" / "taxi.yaml"))
    parser.add_argument("--reference-mode", default="in_memory", choices=["in_memory", "multi_processing", "none"])
    args = parser.parse_args()

    reference = None
    if args.reference_mode != "none" and REFERENCE.exists():
        print(f"TFX's taxi example ({args.reference_mode}) ...", flush=True)
        _, result = timed([str(REFERENCE), sys.executable, args.reference_mode])
        match = re.search(r"([\d.]+) s wall", result.stdout)
        reference = float(match.group(1)) if match else None
        print(f"  {result.stdout.strip() or result.stderr[-500:]}", flush=True)

    from pipelines.config import load_config
    from pipelines.metadata import runs
    from pipelines.metadata.store import open_reader

    output_root = tempfile.mkdtemp(prefix="mlops-bench-")
    try:
        print("this project, cold ...", flush=True)
        cold = run_pipeline(args.config, output_root)
        print("this project, unchanged re-run ...", flush=True)
        warm = run_pipeline(args.config, output_root)

        cfg = load_config(args.config, [f"output_root={output_root}"])
        reader = open_reader(cfg)
        first, second = [runs.read_run_summary(reader, run.name) for run in reader.run_contexts()[-2:]]
        print(f"\n{'component':<32} {'cold':>9} {'re-run':>16}")
        for a in first.components:
            b = second.component(a.node)
            print(f"{a.node:<32} {a.seconds:8.1f}s {b.seconds:8.1f}s {b.state:>7}")
        print(f"{'components, total':<32} {first.total_seconds:8.1f}s {second.total_seconds:8.1f}s")
        print(f"{'wall (process start to end)':<32} {cold:8.1f}s {warm:8.1f}s")
        reused = sum(c.state == "cached" for c in second.components)
        print(f"\nre-run reused {reused} of {len(second.components)} executions from cache (resolvers always "
              "resolve anew; the cold run's push changed what is served, so the drift check and the gate ran again)")
        drift = second.component("DriftCheck")
        if drift is not None and drift.state == "complete":
            print(f"drift check against the served model's training data: {drift.seconds:.2f} s "
                  f"({drift.seconds / cold:.1%} of the cold run's wall time)")
        if reference:
            print(f"cold run / TFX taxi example ({args.reference_mode}): {cold:.1f} / {reference:.1f} s = {cold / reference:.2f}")
    finally:
        shutil.rmtree(output_root, ignore_errors=True)


if __name__ == "__main__":
    main()
