"""How the drift check's distances behave on the shipped taxi data: what the default thresholds are set from.

For samples of N rows drawn at random (seeds 0..S-1): the largest distance each feature reaches between two
samples of the same data (noise: must stay under the threshold), and the distances for the drift the tests
make (trips one mile longer; two card payments in three made in cash instead).

    python bench/drift_noise.py [--rows 1000 2000] [--seeds 6]

With --significance, the tests `mlops monitor` uses below skew.min_examples instead: for samples of N rows
against training statistics of 5,000 other rows, the share of checks that flag any feature (false alarms,
on the same data) and that flag the drifted features (detection), at skew.significance.

    python bench/drift_noise.py --significance [--rows 50 100 300 1000] [--seeds 100]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.config import DEFAULT_CONFIG, load_config  # noqa: E402 - sets TF_USE_LEGACY_KERAS first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--significance", action="store_true", help="false alarms of the significance tests")
    args = parser.parse_args()

    import pyarrow as pa
    import pyarrow.compute as pc
    from tensorflow_data_validation.statistics import stats_impl

    from pipelines.shared import artifact_files, csv_tables, distances

    cfg = load_config(DEFAULT_CONFIG)
    table = pa.concat_tables([csv_tables.read_csv(f, cfg.data.null_values) for f in cfg.input_files()])
    schema = artifact_files.load_schema(str(Path(cfg.schema_path).parent))
    comparators = cfg.comparators("drift")
    options = distances.statistics_options(cfg.features)

    def statistics(rows):
        return stats_impl.generate_statistics_in_memory(csv_tables.table_to_record_batch(rows), options)

    def drifted(rows):
        miles = pc.add(rows.column("trip_miles"), 1.0)
        card = pc.equal(rows.column("payment_type"), "Credit Card")
        moved = pc.and_(card, pa.array(np.arange(rows.num_rows) % 3 != 0))
        payment = pc.if_else(moved, "Cash", rows.column("payment_type"))
        rows = rows.set_column(rows.column_names.index("trip_miles"), "trip_miles", miles)
        return rows.set_column(rows.column_names.index("payment_type"), "payment_type", payment)

    if args.significance:
        from pipelines.shared import significance

        level = cfg.skew.significance
        print(f"significance {level} over {len(comparators)} features; training: 5000 rows")
        print(f"  {'rows':>6} {'false alarms':>13} {'drift caught':>13}")
        for rows in args.rows:
            alarms = caught = 0
            for seed in range(args.seeds):
                order = np.random.default_rng(seed).permutation(table.num_rows)
                train = table.take(pa.array(order[:5000]))
                same = table.take(pa.array(order[5000:5000 + rows]))
                moved = drifted(table.take(pa.array(order[5000 + rows:5000 + 2 * rows])))
                reference = distances.whole_dataset(statistics(train))
                for sample, is_drift in ((same, False), (moved, True)):
                    batch = csv_tables.table_to_record_batch(sample)
                    found = significance.judged_skewed(significance.p_values(
                        reference, distances.whole_dataset(statistics(sample)), batch, comparators), level)
                    if is_drift:
                        caught += bool(found & {"trip_miles", "payment_type"})
                    else:
                        alarms += bool(found)
            print(f"  {rows:>6} {alarms / args.seeds:>13.1%} {caught / args.seeds:>13.1%}")
        return

    for rows in args.rows:
        noise = {name: 0.0 for name in comparators}
        shifted = {name: [] for name in ("trip_miles", "payment_type")}
        for seed in range(args.seeds):
            order = np.random.default_rng(seed).permutation(table.num_rows)
            a, b, c = (table.take(pa.array(order[i * rows:(i + 1) * rows])) for i in range(3))
            reference = statistics(a)
            same, _ = distances.compare(statistics(b), reference, schema, comparators)
            for comparison in same:
                if comparison.feature in noise:
                    noise[comparison.feature] = max(noise[comparison.feature], comparison.value)
            moved, _ = distances.compare(statistics(drifted(c)), reference, schema, comparators)
            for comparison in moved:
                if comparison.feature in shifted:
                    shifted[comparison.feature].append(comparison.value)
        print(f"\n{rows} rows a side, {args.seeds} seeds")
        print(f"  {'feature':<24} {'measure':<15} {'threshold':>9} {'same data, max':>15} {'drifted, min':>13}")
        for name, (measure, threshold) in comparators.items():
            low = f"{min(shifted[name]):13.3f}" if name in shifted else f"{'':>13}"
            print(f"  {name:<24} {measure:<15} {threshold:9g} {noise[name]:15.3f} {low}")


if __name__ == "__main__":
    main()
