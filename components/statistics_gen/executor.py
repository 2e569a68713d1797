"""StatisticsGen's executor: TFX's contract (examples -> per-split FeatureStats.pb, the same artifact
properties) and TFDV's own statistics generators, then the hidden columns scrubbed from what it wrote
(pipelines/shared/private_statistics.py).

Where Beam would run in this process anyway (the DirectRunner in_memory, the local default), the statistics
are computed here, record batch by record batch, with the generators TFDV runs inside its Beam pipeline
(their in-memory forms): the pipeline's set-up was ~2 s of the 15k sample's 3 s, and Beam's Python TFRecord
reading about half of StatisticsGen at 1M rows. Beam's workers (multi_processing, Dataflow, Flink) and
options only the Beam path knows (sampling, slicing, sharded output) get TFX's executor.
"""
from __future__ import annotations

import json
import os

from absl import logging
from tfx.components.statistics_gen import executor as tfx_executor
from tfx.components.util import examples_utils, tfxio_utils
from tfx.types import artifact_utils
from tfx.types import standard_component_specs as keys
from tfx.utils import io_utils, json_utils

from pipelines.shared import artifact_files, private_statistics
from pipelines.shared.beam_runner import runs_in_this_process
from pipelines.shared.pseudonyms import HIDDEN_COLUMNS

# Rows per record batch read: larger batches spend less in Python per row (900k training rows: 1000 -> 10000
# took the generators from 6.8 to 3.0 s and the reading from 13.9 to 11.7 s); one batch stays a few MB.
BATCH_ROWS = 10_000


class Executor(tfx_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties):
        hidden = json.loads(exec_properties.get(HIDDEN_COLUMNS) or "[]")
        exec_properties = {k: v for k, v in exec_properties.items() if k != HIDDEN_COLUMNS}
        options = stats_options(input_dict, exec_properties)
        examples = artifact_utils.get_single_instance(input_dict[keys.EXAMPLES_KEY])
        statistics = artifact_utils.get_single_instance(output_dict[keys.STATISTICS_KEY])
        if needs_beam(self._beam_pipeline_args, options, exec_properties, examples):
            super().Do(input_dict, output_dict, exec_properties)
        else:
            write_in_process(examples, statistics, options, exec_properties)
        scrub(statistics, hidden)


def stats_options(input_dict, exec_properties):
    """The StatsOptions TFX's executor would use: the JSON exec property, with the schema input when given."""
    from tensorflow_data_validation import StatsOptions

    options_json = exec_properties.get(keys.STATS_OPTIONS_JSON_KEY)
    options = StatsOptions.from_json(options_json) if options_json else StatsOptions()
    if input_dict.get(keys.SCHEMA_KEY):
        if options.schema:
            raise ValueError("a schema was given both as an input and in stats_options: at most one may be")
        options.schema = io_utils.SchemaReader().read(
            io_utils.get_only_uri_in_dir(artifact_utils.get_single_uri(input_dict[keys.SCHEMA_KEY])))
    return options


def needs_beam(pipeline_args: list[str], options, exec_properties, examples) -> bool:
    """Whether only TFX's Beam pipeline does what is asked: Beam's workers (another runner, or the
    DirectRunner's multi_processing mode: runner.beam, or the Kubeflow beam args), sampling, slicing,
    sharded output, chosen features, or splits named by pattern."""
    return bool(not runs_in_this_process(pipeline_args or [])
                or options.sample_rate not in (None, 1.0)
                or json_utils.loads(exec_properties.get(keys.SAMPLE_RATE_BY_SPLIT_KEY, "null"))
                or options.experimental_slice_functions or options.experimental_slice_sqls
                or options.slicing_config
                or options.experimental_filter_read_paths or options.feature_allowlist
                or exec_properties.get(keys.SHARDED_STATS_OUTPUT_KEY)
                or examples.has_custom_property(examples_utils.CUSTOM_SPLIT_PATTERN_PROPERTY_NAME))


def split_statistics(record_batches, options):
    """The DatasetFeatureStatisticsList of a stream of Arrow record batches: each of TFDV's generators folds
    every batch into its accumulator, as in TFDV's Beam combiner, without holding more than one batch."""
    from tensorflow_data_validation.statistics import stats_impl

    generators = stats_impl.get_generators(options, in_memory=True)
    accumulators = [generator.create_accumulator() for generator in generators]
    for batch in record_batches:
        accumulators = [generator.add_input(accumulator, batch)
                        for generator, accumulator in zip(generators, accumulators)]
    return stats_impl.extract_statistics_output(accumulators, generators)


def write_in_process(examples, statistics, options, exec_properties) -> None:
    """TFX's StatisticsGen's outputs and artifact properties, computed in this process (split_statistics)."""
    from tfx_bsl.tfxio import dataset_options

    excluded = json_utils.loads(exec_properties.get(keys.EXCLUDE_SPLITS_KEY, "null")) or []
    splits = [s for s in artifact_utils.decode_split_names(examples.split_names) if s not in excluded]
    if not splits:
        raise ValueError(f"no splits to compute statistics of in {examples.uri}")
    statistics.split_names = artifact_utils.encode_split_names(splits)
    statistics.span = examples.span
    statistics.set_string_custom_property(tfx_executor.STATS_DASHBOARD_LINK, "")  # TFX's link is for Google Cloud
    statistics.set_json_value_custom_property(tfx_executor.SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME,
                                              json_utils.dumps({split: 1.0 for split in splits}))
    reading = dataset_options.RecordBatchesOptions(batch_size=BATCH_ROWS, shuffle=False, num_epochs=1)
    for split in splits:
        tfxio = tfxio_utils.get_split_tfxio(examples=[examples], split=split, telemetry_descriptors=["StatisticsGen"])
        proto = split_statistics(tfxio.RecordBatches(reading), options)
        write_statistics(statistics, split, proto)
        logging.info("Statistics of split %s: %d examples", split, proto.datasets[0].num_examples)


def write_statistics(statistics, split: str, proto) -> None:
    path = os.path.join(statistics.uri, f"Split-{split}", artifact_files.STATISTICS_FILE)
    artifact_files.fileio().makedirs(os.path.dirname(path))
    with artifact_files.open_file(path, "wb") as f:
        f.write(proto.SerializeToString())


def scrub(statistics, hidden: list[str]) -> None:
    """Personal and pseudonymised columns: counts only, no value in any statistic."""
    if not hidden:
        return
    from tensorflow_metadata.proto.v0 import statistics_pb2

    for split, proto in artifact_files.per_split(statistics.uri, artifact_files.STATISTICS_FILE,
                                                 statistics_pb2.DatasetFeatureStatisticsList):
        count = private_statistics.scrub(proto, hidden)
        write_statistics(statistics, split, proto)
        logging.info("Statistics of split %s: %d hidden columns hold counts only", split, count)
