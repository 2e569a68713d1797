"""ExampleGen executor reading CSV with pyarrow and writing the splits itself (see splits.py): no Beam.

Same output contract as TFX's file-based ExampleGen: one `Split-<name>` folder per split of gzipped
TFRecord files of serialized tf.Examples, `split_names`, and the payload format; span, version and
the input fingerprint come from TFX's FileBasedExampleGen driver as before. With {SPAN} in the pattern the
driver picks the newest span; with a window of N spans, the N-1 before it are written whole to one more
split, `earlier_spans`, which Transform and the Trainer read and the checks and the Evaluator do not.
"""
from __future__ import annotations

import json
from typing import Any, Optional

from absl import logging
from google.protobuf import struct_pb2
from tfx.components.example_gen import utils
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs as keys
from tfx.utils import proto_utils

from components.csv_example_gen import splits
from components.csv_example_gen.privacy import Privacy, k_anonymity
from pipelines.config.parts import ExampleGenPart, IngestionPrivacyPart
from pipelines.shared import artifact_files, data_files, pseudonyms

SPANS_PROPERTY = "spans"  # the span numbers read, oldest first (TFX's `span` property holds the newest)


PART_KEY = "part"  # the ExampleGenPart's JSON, inside the custom_config Struct TFX's ExampleGen spec requires


def custom_options(exec_properties: dict[str, Any]) -> ExampleGenPart:
    """The part of the config custom_config() packed (the defaults when there is none)."""
    options = struct_pb2.Struct()
    text = exec_properties.get(keys.CUSTOM_CONFIG_KEY)
    if text:
        proto_utils.json_to_proto(text, example_gen_pb2.CustomConfig()).custom_config.Unpack(options)
    return ExampleGenPart.model_validate_json(options[PART_KEY]) if PART_KEY in options else ExampleGenPart()


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
        windowed = options.span_pattern is not None and options.span_window > 1
        if windowed:
            earlier = data_files.window(data_files.files_by_span(input_base, options.span_pattern), newest,
                                        options.span_window)
            earlier.pop(newest, None)
        # The split exists, empty before a second span arrives: Transform and the Trainer are told to read it.
        examples.split_names = artifact_utils.encode_split_names(names + ([data_files.EARLIER_SPANS] if windowed else []))
        if options.span_pattern is not None:
            examples.set_string_custom_property(SPANS_PROPERTY, ",".join(map(str, [*earlier, newest])))

        hash_buckets = [s.hash_buckets for s in split_configs]
        if options.eval_max_rows is not None:
            hash_buckets = splits.capped_hash_buckets(hash_buckets, names.index("eval"), splits.count_rows(files),
                                                      options.eval_max_rows)
        privacy = ingestion_privacy(options.privacy)
        value_types = dict(options.value_types)
        if privacy is not None:  # read as text: "007" and 7 are different IDs
            value_types.update({column: "BYTES" for column in privacy.pseudonymize})
        reading = {"null_values": options.null_values, "label_columns": options.label_columns,
                   "value_types": value_types or None, "privacy": privacy, "row_column": options.row_column}
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
        if privacy is not None and options.privacy is not None:
            spans_of_files = {path: span for span, paths in earlier.items() for path in paths}
            spans_of_files.update({path: newest for path in files})
            record_privacy(examples, privacy, options.privacy, spans_of_files)
        if exec_properties.get(keys.OUTPUT_DATA_FORMAT_KEY):
            examples_utils.set_payload_format(examples, exec_properties[keys.OUTPUT_DATA_FORMAT_KEY])


def ingestion_privacy(part: Optional[IngestionPrivacyPart]) -> Optional[Privacy]:
    """The Privacy applied to every batch; the key is read here, and must be the one the pipeline was built
    with (its id is in the part): rows pseudonymised with another key would not join the earlier ones."""
    if part is None:
        return None
    key = None
    if part.pseudonymize:
        key = pseudonyms.read_key(part.key_env, part.key_file)
        if part.key_id and key.key_id != part.key_id:
            raise pseudonyms.PseudonymKeyError(
                f"the pseudonym key ({key.source}, id {key.key_id}) is not the one this pipeline was built with "
                f"(id {part.key_id}): the key changed while it ran; run it again")
    return Privacy(key=key, pseudonymize=part.pseudonymize, drop=part.drop, id_column=part.id_column,
                   forgotten=frozenset(part.forgotten), quasi_identifiers=part.quasi_identifiers)


def record_privacy(examples, privacy: Privacy, part: IngestionPrivacyPart, spans_of_files: dict[str, int]) -> None:
    """The privacy property of the Examples and, with an ID column, its per-span index of pseudonyms."""
    record: dict[str, Any] = {"pseudonymized": part.pseudonymize, "dropped": part.drop,
                              "key_id": privacy.key.key_id if privacy.key else None}
    if part.id_column:
        pseudonyms.write_index(examples.uri, privacy.ids_by_span(spans_of_files))
        record.update(id_column=part.id_column, forgotten_ids=len(part.forgotten),
                      forgotten_rows=privacy.forgotten_rows)
    if part.quasi_identifiers:
        record["k_anonymity"] = {**k_anonymity(privacy.groups, part.quasi_identifiers, part.small_group),
                                 "min_k": part.min_k}
    logging.info("Privacy: %s", json.dumps(record, sort_keys=True))
    examples.set_string_custom_property(pseudonyms.PRIVACY_PROPERTY, json.dumps(record, sort_keys=True))


def custom_config(part: ExampleGenPart) -> example_gen_pb2.CustomConfig:
    """The component-side half of custom_options."""
    options = struct_pb2.Struct()
    options.update({PART_KEY: part.model_dump_json()})
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(options)
    return config
