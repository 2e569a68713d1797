"""`make bench-scale`: the taxi pipeline on a taxi-shaped CSV of N rows (default 1M), against TFX's own taxi
example on the same file, timed back to back on this machine.

Prints TFX's example's wall time (../shared/bench/tfx-taxi-reference, multi_processing Beam as the
example ships), both ExampleGens alone on the file (TFX's CsvExampleGen and this project's), then this
project's run: wall time, per-component times from ML Metadata, the largest resident memory of any one
process of the run (sampled every half second), and the ratios.

    python bench/scale.py [--rows N] [--reference-mode multi_processing|in_memory|none] [--set KEY=VALUE ...]
"""
from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from bench import PROJECT, REFERENCE, timed


def run_with_peak_memory(command: list[str]
                         ) -> tuple[float, float, subprocess.CompletedProcess, dict[str, float], dict[str, float]]:
    """(wall seconds, the largest RSS of any one process of the tree in MB, the result, that largest RSS while
    each component ran (running_components), and the largest RSS of the run's own process while each ran)."""
    start = time.monotonic()
    process = subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    errors: list[str] = []
    readers = [threading.Thread(target=out.extend, args=(stream,), daemon=True)
               for stream, out in ((process.stdout, lines), (process.stderr, errors))]
    for reader in readers:
        reader.start()
    peaks: dict[str, float] = {}
    main_peaks: dict[str, float] = {}  # the run's own process (the others: Beam workers, model servers)
    root = psutil.Process(process.pid)
    while process.poll() is None:
        with contextlib.suppress(psutil.Error):  # a process ended while sampled
            main = root.memory_info().rss / 2**20
            workers = max((p.memory_info().rss / 2**20 for p in root.children(recursive=True)), default=0.0)
            for running in running_components(lines):
                peaks[running] = max(main, workers, peaks.get(running, 0.0))
                main_peaks[running] = max(main, main_peaks.get(running, 0.0))
        time.sleep(0.5)
    for reader in readers:
        reader.join()
    result = subprocess.CompletedProcess(command, process.returncode, "".join(lines), "".join(errors))
    return time.monotonic() - start, max(peaks.values(), default=0.0), result, peaks, main_peaks


RUNNING = re.compile(r"^  (\S+) \.\.\.$")
DONE = re.compile(r"^  (\S+) done in ")


def running_components(lines: list[str]) -> list[str]:
    """The components the run has started (`  <component> ...`) and not finished (`  <component> done in`):
    several when they run side by side; between two, the last started; [""] before the first."""
    started = [m.group(1) for line in lines if (m := RUNNING.match(line))]
    done = {m.group(1) for line in lines if (m := DONE.match(line))}
    return [node for node in started if node not in done] or started[-1:] or [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference-mode", default="multi_processing", choices=["in_memory", "multi_processing", "none"])
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="passed to mlops run")
    parser.add_argument("--keep", action="store_true", help="keep the data and the run's outputs (printed)")
    parser.add_argument("--no-example-gen", action="store_true", help="skip timing both ExampleGens alone")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mlops-scale-"))
    try:
        data = work / "data"
        subprocess.run([sys.executable, str(PROJECT / "bench" / "make_taxi_csv.py"), str(args.rows),
                        str(data / "taxi.csv")], check=True, cwd=PROJECT)

        reference = None
        if args.reference_mode != "none" and REFERENCE.exists():
            print(f"TFX's taxi example ({args.reference_mode}) on the same file ...", flush=True)
            _, reference_peak_mb, result, _, _ = run_with_peak_memory([str(REFERENCE), sys.executable, args.reference_mode,
                                                                 str(data)])
            match = re.search(r"([\d.]+) s wall", result.stdout)
            reference = float(match.group(1)) if match else None
            print(f"  {result.stdout.strip() or result.stderr[-500:]}", flush=True)
            if reference:
                print(f"  {1e6 * reference / args.rows:.0f} µs a row; largest process {reference_peak_mb:.0f} MB resident",
                      flush=True)

        if reference is not None and not args.no_example_gen:
            print("ExampleGen alone, TFX's then this project's ...", flush=True)
            _, result = timed([sys.executable, str(PROJECT / "bench" / "example_gen.py"), str(data),
                               "--mode", args.reference_mode])
            print("  " + (result.stdout.strip() or result.stderr[-500:]).replace("\n", "\n  "), flush=True)

        print("this project ...", flush=True)
        overrides = [f"data.path={data}", f"output_root={work / 'out'}", *args.overrides]
        seconds, peak_mb, result, peaks, main_peaks = run_with_peak_memory(
            [sys.executable, "-m", "pipelines.cli", "run", str(PROJECT / "configs" / "taxi.yaml"),
             *[a for o in overrides for a in ("--set", o)]])
        if result.returncode != 0:
            sys.exit(f"pipeline run failed:\n{result.stdout}\n{result.stderr[-3000:]}")

        from pipelines.config import load_config
        from pipelines.metadata import runs
        from pipelines.metadata.store import open_reader

        summary = runs.read_run_summary(open_reader(load_config(PROJECT / "configs" / "taxi.yaml", overrides)))
        print(f"\n{args.rows} rows; {' '.join(result.stdout.split('Beam: ')[1].splitlines()[0:1])}")
        for component in summary.components:
            print(f"  {component.node:<32} {component.seconds:8.1f} s   largest process {peaks.get(component.node, 0):6.0f} MB"
                  f" (the run's own {main_peaks.get(component.node, 0):6.0f} MB)")
        print(f"  {'wall (process start to end)':<32} {seconds:8.1f} s   ({1e6 * seconds / args.rows:.0f} µs a row)")
        print(f"  {'largest process':<32} {peak_mb:8.0f} MB resident (start-up {peaks.get('', 0):.0f} MB)")
        if reference:
            print(f"this project / TFX taxi example ({args.reference_mode}): {seconds:.1f} / {reference:.1f} s "
                  f"= {seconds / reference:.2f}")
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
