"""ExampleGen executor reading CSV with pyarrow and writing the splits itself (see splits.py): no Beam.

Same output contract as TFX's file-based ExampleGen: one `Split-<name>` folder per split of gzipped
TFRecord files of serialized tf.Examples, `split_names`, and the payload format; span, version and
the input fingerprint come from TFX's FileBasedExampleGen driver as before. With {SPAN} in the pattern the
driver picks the newest span; with a window of N spans, the N-1 before it are written whole to one more
split, `earlier_spans`, which Transform and the Trainer read and the checks and the Evaluator do not.
"""
from __future__ import annotations

import json
from typing import Any, Optional, Sequence

from absl import logging
from google.protobuf import json_format, struct_pb2
from tfx.components.example_gen import utils
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs as keys
from tfx.utils import proto_utils

from components.csv_example_gen import splits
from pipelines.shared import artifact_files, data_files

SPANS_PROPERTY = "spans"  # the span numbers read, oldest first (TFX's `span` property holds the newest)


def custom_options(exec_properties: dict[str, Any]) -> dict[str, Any]:
    """What custom_config() packed: null_values, and eval_max_rows, span_pattern, span_window, label_columns,
    value_types when set."""
    options = struct_pb2.Struct()
    text = exec_properties.get(keys.CUSTOM_CONFIG_KEY)
    if text:
        proto_utils.json_to_proto(text, example_gen_pb2.CustomConfig()).custom_config.Unpack(options)
    unpacked = {"null_values": [""], **json_format.MessageToDict(options)}
    for whole_number in ("eval_max_rows", "span_window"):
        if whole_number in unpacked:
            unpacked[whole_number] = int(unpacked[whole_number])
    return unpacked


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        input_config = proto_utils.json_to_proto(exec_properties[keys.INPUT_CONFIG_KEY], example_gen_pb2.Input())
        output_config = proto_utils.json_to_proto(exec_properties[keys.OUTPUT_CONFIG_KEY], example_gen_pb2.Output())
        [single_split] = input_config.splits  # the component always makes one input split, split by hash
        split_configs = output_config.split_config.splits
        names = [s.name for s in split_configs]
        examples = artifact_utils.get_single_instance(output_dict[keys.EXAMPLES_KEY])
        options = custom_options(exec_properties)
        input_base = exec_properties[keys.INPUT_BASE_KEY]

        # The driver put the newest span's number in the pattern; earlier spans of the window go to their own split.
        files = data_files.matching_files(input_base, single_split.pattern)
        newest, earlier = exec_properties.get(utils.SPAN_PROPERTY_NAME, 0), {}
        windowed = options.get("span_window", 1) > 1
        if windowed:
            earlier = data_files.window(data_files.files_by_span(input_base, options["span_pattern"]), newest,
                                   options["span_window"])
            earlier.pop(newest, None)
        # The split exists, empty before a second span arrives: Transform and the Trainer are told to read it.
        examples.split_names = artifact_utils.encode_split_names(names + ([data_files.EARLIER_SPANS] if windowed else []))
        if "span_pattern" in options:
            examples.set_string_custom_property(SPANS_PROPERTY, ",".join(map(str, [*earlier, newest])))

        hash_buckets = [s.hash_buckets for s in split_configs]
        if options.get("eval_max_rows") is not None:
            hash_buckets = splits.capped_hash_buckets(hash_buckets, names.index("eval"), splits.count_rows(files),
                                                     options["eval_max_rows"])
        reading = {"null_values": options["null_values"], "label_columns": options.get("label_columns", []),
                   "value_types": options.get("value_types")}
        written = splits.write_splits(files, split_dirs=[artifact_utils.get_split_uri([examples], name) for name in names],
                                     hash_buckets=hash_buckets, **reading)
        logging.info("Wrote %s from %d files (hash buckets %s)",
                     ", ".join(f"{n} {name}" for n, name in zip(written.rows, names)), len(files), hash_buckets)
        label_counts = {name: {"examples": n, "unlabelled": u}
                        for name, n, u in zip(names, written.rows, written.unlabelled)}
        if windowed:
            earlier_files = [f for files in earlier.values() for f in files]
            earlier_written = splits.write_splits(
                earlier_files, split_dirs=[artifact_utils.get_split_uri([examples], data_files.EARLIER_SPANS)],
                hash_buckets=[1], **reading)
            logging.info("Wrote %d %s from spans %s", earlier_written.rows[0], data_files.EARLIER_SPANS, list(earlier))
            label_counts[data_files.EARLIER_SPANS] = {"examples": earlier_written.rows[0],
                                                 "unlabelled": earlier_written.unlabelled[0]}
        if reading["label_columns"]:
            examples.set_string_custom_property(artifact_files.LABEL_COUNTS_PROPERTY, json.dumps(label_counts))
        if exec_properties.get(keys.OUTPUT_DATA_FORMAT_KEY):
            examples_utils.set_payload_format(examples, exec_properties[keys.OUTPUT_DATA_FORMAT_KEY])


def custom_config(null_values: list[str], eval_max_rows: Optional[int] = None, span_pattern: Optional[str] = None,
                  span_window: int = 1, label_columns: Sequence[str] = (),
                  value_types: Optional[dict[str, str]] = None) -> example_gen_pb2.CustomConfig:
    """The component-side half of custom_options. `label_columns`: rows missing any of them are left out
    and counted; `value_types`: the schema's {column: FLOAT|INT|BYTES}, how those columns are read."""
    options = struct_pb2.Struct()
    options.update({"null_values": list(null_values)})
    if label_columns:
        options.update({"label_columns": sorted(label_columns)})
    if value_types:
        options.update({"value_types": dict(sorted(value_types.items()))})
    if eval_max_rows is not None:
        options.update({"eval_max_rows": eval_max_rows})
    if span_pattern is not None:
        options.update({"span_pattern": span_pattern, "span_window": span_window})
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(options)
    return config
