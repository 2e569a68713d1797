"""ExampleGen executor reading CSV with pyarrow and writing the splits itself (see logic.py): no Beam.

Same output contract as TFX's file-based ExampleGen: one `Split-<name>` folder per split of gzipped
TFRecord files of serialized tf.Examples, `split_names`, and the payload format; span, version and
the input fingerprint come from TFX's FileBasedExampleGen driver as before.
"""
from __future__ import annotations

from typing import Any, Optional

from absl import logging
from google.protobuf import struct_pb2
from tfx.components.example_gen import utils
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs as keys
from tfx.utils import proto_utils

from components.csv_example_gen import logic


def _custom_options(exec_properties: dict[str, Any]) -> struct_pb2.Struct:
    options = struct_pb2.Struct()
    text = exec_properties.get(keys.CUSTOM_CONFIG_KEY)
    if text:
        proto_utils.json_to_proto(text, example_gen_pb2.CustomConfig()).custom_config.Unpack(options)
    return options


def null_values_from(exec_properties: dict[str, Any]) -> list[str]:
    options = _custom_options(exec_properties)
    return list(options["null_values"]) if "null_values" in options else [""]


def eval_max_rows_from(exec_properties: dict[str, Any]) -> Optional[int]:
    options = _custom_options(exec_properties)
    return int(options["eval_max_rows"]) if "eval_max_rows" in options else None


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        input_config = proto_utils.json_to_proto(exec_properties[keys.INPUT_CONFIG_KEY], example_gen_pb2.Input())
        output_config = proto_utils.json_to_proto(exec_properties[keys.OUTPUT_CONFIG_KEY], example_gen_pb2.Output())
        [single_split] = input_config.splits  # the component always makes one input split, split by hash
        splits = output_config.split_config.splits
        examples = artifact_utils.get_single_instance(output_dict[keys.EXAMPLES_KEY])
        examples.split_names = artifact_utils.encode_split_names(
            utils.generate_output_split_names(input_config, output_config))

        files = logic.matching_files(exec_properties[keys.INPUT_BASE_KEY], single_split.pattern)
        hash_buckets = [s.hash_buckets for s in splits]
        eval_max_rows = eval_max_rows_from(exec_properties)
        if eval_max_rows is not None:
            names = [s.name for s in splits]
            hash_buckets = logic.capped_hash_buckets(hash_buckets, names.index("eval"), logic.count_rows(files),
                                                     eval_max_rows)
        counts = logic.write_splits(files, null_values_from(exec_properties),
                                    [artifact_utils.get_split_uri([examples], s.name) for s in splits], hash_buckets)
        logging.info("Wrote %s from %d files (hash buckets %s)", ", ".join(f"{n} {s.name}" for n, s in zip(counts, splits)),
                     len(files), hash_buckets)
        if exec_properties.get(keys.OUTPUT_DATA_FORMAT_KEY):
            examples_utils.set_payload_format(examples, exec_properties[keys.OUTPUT_DATA_FORMAT_KEY])


def custom_config(null_values: list[str], eval_max_rows: Optional[int] = None) -> example_gen_pb2.CustomConfig:
    """The component-side half of null_values_from and eval_max_rows_from."""
    options = struct_pb2.Struct()
    options.update({"null_values": list(null_values)})
    if eval_max_rows is not None:
        options.update({"eval_max_rows": eval_max_rows})
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(options)
    return config
