"""Times TFX's CsvExampleGen executor and this project's on the same folder of CSV files, back to back,
each in a fresh process, and prints wall time, the process's peak resident memory and the ratio.

    python bench/example_gen.py DATA_DIR [--mode in_memory|multi_processing]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ONE = """
import json, resource, sys, time
import pipelines  # TF_USE_LEGACY_KERAS before TensorFlow
from tfx.types import standard_artifacts, standard_component_specs as keys
which, data, out, mode = sys.argv[1:5]
if which == "tfx":
    from tfx.components import CsvExampleGen
    from tfx.components.example_gen.csv_example_gen.executor import Executor
    component = CsvExampleGen(input_base=data)
else:
    from components.csv_example_gen.component import fast_csv_example_gen
    from components.csv_example_gen.executor import Executor
    component = fast_csv_example_gen(data, "*", [""], train=2, eval=1)
properties = {k: v for k, v in component.exec_properties.items() if v is not None}
from tfx.utils import proto_utils
from google.protobuf import message
properties = {k: proto_utils.proto_to_json(v) if isinstance(v, message.Message) else v for k, v in properties.items()}
examples = standard_artifacts.Examples()
examples.uri = out
from tfx.dsl.components.base import base_beam_executor
context = base_beam_executor.BaseBeamExecutor.Context(
    beam_pipeline_args=[f"--direct_running_mode={mode}", "--direct_num_workers=" + ("1" if mode == "in_memory" else "2")],
    tmp_dir=out + "/.tmp", unique_id="1")
start = time.time()
Executor(context).Do({}, {keys.EXAMPLES_KEY: [examples]}, properties)
seconds = time.time() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": max(peak_mb, children_mb)}))
"""


def time_one(which: str, data: str, mode: str) -> dict:
    with tempfile.TemporaryDirectory() as out:
        result = subprocess.run([sys.executable, "-c", ONE, which, data, os.path.join(out, "examples"), mode],
                                capture_output=True, text=True, cwd=PROJECT)
        if result.returncode != 0:
            sys.exit(f"{which} failed:\n{result.stderr[-3000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir")
    parser.add_argument("--mode", default="multi_processing", help="Beam mode for TFX's CsvExampleGen")
    args = parser.parse_args()
    tfx = time_one("tfx", args.data_dir, args.mode)
    ours = time_one("ours", args.data_dir, args.mode)
    print(f"TFX CsvExampleGen ({args.mode}): {tfx['seconds']:7.1f} s  peak {tfx['peak_mb']:6.0f} MB")
    print(f"this project's ExampleGen:       {ours['seconds']:7.1f} s  peak {ours['peak_mb']:6.0f} MB")
    print(f"ratio: {ours['seconds'] / tfx['seconds']:.3f} of TFX's time")


if __name__ == "__main__":
    main()
