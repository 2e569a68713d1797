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

from components.atomic_pusher import logic


class Executor(tfx_pusher.Executor):
    def Do(self, input_dict, output_dict, exec_properties):
        destination = proto_utils.json_to_proto(exec_properties[keys.PUSH_DESTINATION_KEY], pusher_pb2.PushDestination())
        serving_dir = destination.filesystem.base_directory
        if "://" in serving_dir:  # object stores have no atomic rename: TFX's own copy
            return super().Do(input_dict, output_dict, exec_properties)
        staging = logic.staging_dir(serving_dir)
        destination.filesystem.base_directory = staging
        staged_properties = {**exec_properties, keys.PUSH_DESTINATION_KEY: proto_utils.proto_to_json(destination)}
        try:
            super().Do(input_dict, output_dict, staged_properties)
            pushed = output_dict[keys.PUSHED_MODEL_KEY][0]
            if pushed.get_int_custom_property("pushed") == 1:
                final = logic.publish(pushed.get_string_custom_property("pushed_destination"), serving_dir)
                pushed.set_string_custom_property("pushed_destination", final)
        finally:
            logic.discard(staging)
