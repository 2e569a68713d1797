"""TFX's Pusher, but the version folder appears in the serving folder complete, in one rename.

TFX's filesystem Pusher copies file by file into <serving_dir>/<version>/; a crash or a full disk
mid-copy leaves a half-written version that TF Serving, watching the folder, tries to load.
Here TFX's executor pushes into a staging folder inside the serving folder (same file system),
and the finished version is renamed into place. Object stores (gs://, s3://) have no rename: there
TFX's Pusher runs unchanged.
"""
from __future__ import annotations

from absl import logging
from tfx.components.pusher import executor as tfx_pusher
from tfx.proto import pusher_pb2
from tfx.types import standard_component_specs as keys
from tfx.utils import proto_utils

from components.atomic_pusher import publishing
from pipelines.shared import artifact_files, reference_model, serving_layout

TRAINING_STATISTICS_KEY = "training_statistics"
REFERENCE_KEY, EVALUATION_KEY = "reference", "evaluation"


class Executor(tfx_pusher.Executor):
    def Do(self, input_dict, output_dict, exec_properties):
        destination = proto_utils.json_to_proto(exec_properties[keys.PUSH_DESTINATION_KEY], pusher_pb2.PushDestination())
        serving_dir = destination.filesystem.base_directory
        pushed = output_dict[keys.PUSHED_MODEL_KEY][0]
        if artifact_files.is_uri(serving_dir):  # object stores have no atomic rename: TFX's own copy, then the statistics
            super().Do(input_dict, output_dict, exec_properties)
            if pushed.get_int_custom_property("pushed") == 1:
                self._attach_statistics(input_dict, pushed.get_string_custom_property("pushed_destination"))
            return
        staging = serving_layout.staging_dir(serving_dir)
        destination.filesystem.base_directory = staging
        staged_properties = {**exec_properties, keys.PUSH_DESTINATION_KEY: proto_utils.proto_to_json(destination)}
        try:
            super().Do(input_dict, output_dict, staged_properties)
            if pushed.get_int_custom_property("pushed") == 1:
                staged = pushed.get_string_custom_property("pushed_destination")
                self._attach_statistics(input_dict, staged)
                final = publishing.publish(staged, serving_dir)
                pushed.set_string_custom_property("pushed_destination", final)
        finally:
            publishing.discard(staging)

    def CheckBlessing(self, input_dict) -> bool:
        if not super().CheckBlessing(input_dict):
            return False
        held_back = self._short_of_reference(input_dict)
        if held_back:
            logging.warning("not pushed: %s", held_back)
            self._held_back = held_back
        return not held_back

    def _MarkNotPushed(self, model_push) -> None:
        super()._MarkNotPushed(model_push)
        if getattr(self, "_held_back", ""):
            model_push.set_string_custom_property(artifact_files.HELD_BACK_PROPERTY, self._held_back)

    @staticmethod
    def _short_of_reference(input_dict) -> str:
        references, evaluations = input_dict.get(REFERENCE_KEY), input_dict.get(EVALUATION_KEY)
        if not references or not evaluations:
            return ""
        summary = reference_model.read(references[0].uri)
        return publishing.reference_gap_reason(publishing.overall_metrics(evaluations[0].uri), summary)

    @staticmethod
    def _attach_statistics(input_dict, version_dir: str) -> None:
        for statistics in input_dict.get(TRAINING_STATISTICS_KEY, []):
            serving_layout.attach_training_statistics(statistics.uri, version_dir, {"statistics_id": statistics.id})
