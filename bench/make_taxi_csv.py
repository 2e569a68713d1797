"""Writes a taxi-shaped CSV of N rows for scale runs: rows of the 15k-row sample shipped in the tfx wheel,
drawn at random, with a little jitter on the numeric columns so that rows are distinct.

    python bench/make_taxi_csv.py ROWS OUTPUT.csv [--seed 0]
"""
from __future__ import annotations

import argparse
import glob
import os
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELATIVE = {"trip_miles": 2, "fare": 2, "trip_seconds": 0, "tips": 2}  # column: decimals; 1% noise
COORDINATES = ("pickup_latitude", "pickup_longitude", "dropoff_latitude", "dropoff_longitude")  # ~100 m noise


def sample_csv() -> str:
    from pipelines.config import DEFAULT_CONFIG, load_config

    cfg = load_config(DEFAULT_CONFIG)
    return sorted(glob.glob(os.path.join(cfg.data_dir, cfg.data.pattern)))[0]


def resample(table: pa.Table, rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    table = table.take(pa.array(rng.integers(0, table.num_rows, rows)))
    for name in [*RELATIVE, *COORDINATES]:
        column = table.column(name).combine_chunks()
        values = column.to_numpy(zero_copy_only=False).astype(np.float64)
        if name in RELATIVE:
            noisy = np.round(values * (1 + rng.normal(0, 0.01, rows)), RELATIVE[name])
        else:
            noisy = np.round(values + rng.normal(0, 0.001, rows), 6)
        jittered = pa.array(noisy, mask=pc.is_null(column).to_numpy(zero_copy_only=False)).cast(column.type, safe=False)
        table = table.set_column(table.schema.get_field_index(name), name, jittered)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", type=int)
    parser.add_argument("output")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    table = csv.read_csv(sample_csv(), convert_options=csv.ConvertOptions(strings_can_be_null=True))
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    # pandas, not pyarrow's writer: that one quotes every header and string, and TFX's CsvExampleGen keeps
    # the quotes in the column names. Nullable Int64 keeps integer columns with gaps integers.
    frame = resample(table, args.rows, args.seed).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    frame.to_csv(args.output, index=False)
    print(f"{args.rows} rows, {os.path.getsize(args.output) / 2**20:.0f} MiB: {args.output}")


if __name__ == "__main__":
    main()
