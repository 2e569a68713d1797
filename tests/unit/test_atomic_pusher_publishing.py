"""Publishing a pushed version with one rename, never overwriting."""
import pytest

from components.atomic_pusher import publishing
from pipelines.shared import serving_layout


def test_publish_moves_a_complete_version_into_place_and_never_overwrites(tmp_path):
    serving = tmp_path / "serving"
    staging = serving_layout.staging_dir(str(serving))
    assert staging.startswith(str(serving / serving_layout.STAGING))
    version = tmp_path / "serving" / serving_layout.STAGING / "x" / "1700000000"
    version.mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"model")

    final = publishing.publish(str(version), str(serving))
    assert final == str(serving / "1700000000")
    assert (serving / "1700000000" / "saved_model.pb").read_bytes() == b"model"
    assert not version.exists()

    version.mkdir(parents=True)
    with pytest.raises(FileExistsError, match="never overwritten"):
        publishing.publish(str(version), str(serving))

    publishing.discard(str(serving / serving_layout.STAGING / "x"))
    assert sorted(p.name for p in serving.iterdir()) == ["1700000000"]  # the staging folder is gone too
