"""TFX's Pusher, but the version folder appears in the serving folder complete, in one rename.

TFX's filesystem Pusher copies file by file into <serving_dir>/<version>/; a crash or a full disk
mid-copy leaves a half-written version that TF Serving, watching the folder, tries to load.
Here TFX's executor pushes into a staging folder inside the serving folder (same file system),
and the finished version is renamed into place. Object stores (gs://, s3://) have no rename: there
TFX's Pusher runs unchanged.
"""
from __future__ import annotations

from tfx.components.pusher import executor as tfx_pusher
from tfx.proto import pusher_pb2
from tfx.types import standard_component_specs as keys
from tfx.utils import proto_utils

from components.atomic_pusher import publishing
from pipelines.shared import artifact_files, serving_layout

TRAINING_STATISTICS_KEY = "training_statistics"


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

    @staticmethod
    def _attach_statistics(input_dict, version_dir: str) -> None:
        for statistics in input_dict.get(TRAINING_STATISTICS_KEY, []):
            serving_layout.attach_training_statistics(statistics.uri, version_dir, {"statistics_id": statistics.id})
