"""ExampleGen executor reading CSV with pyarrow (see logic.py); TFX's base executor splits and writes."""
from __future__ import annotations

from typing import Any

import apache_beam as beam
from google.protobuf import struct_pb2
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from components.csv_example_gen import logic


def null_values_from(exec_properties: dict[str, Any]) -> list[str]:
    text = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
    if not text:
        return [""]
    custom = proto_utils.json_to_proto(text, example_gen_pb2.CustomConfig())
    options = struct_pb2.Struct()
    custom.custom_config.Unpack(options)
    return list(options["null_values"]) if "null_values" in options else [""]


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(bytes)
def _CsvToSerializedExamples(pipeline, exec_properties: dict[str, Any], split_pattern: str):
    files = logic.matching_files(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
    null_values = null_values_from(exec_properties)
    return (pipeline
            | "Files" >> beam.Create(files)
            | "ReadCsv" >> beam.FlatMap(logic.csv_to_examples, null_values=null_values))


class Executor(BaseExampleGenExecutor):
    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _CsvToSerializedExamples


def custom_config(null_values: list[str]) -> example_gen_pb2.CustomConfig:
    """The component-side half of null_values_from."""
    options = struct_pb2.Struct()
    options.update({"null_values": list(null_values)})
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(options)
    return config


