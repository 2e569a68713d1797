"""Publishing a pushed version with one rename, never overwriting."""
import pytest

from components.atomic_pusher import logic as push


def test_publish_moves_a_complete_version_into_place_and_never_overwrites(tmp_path):
    serving = tmp_path / "serving"
    staging = push.staging_dir(str(serving))
    assert staging.startswith(str(serving / push.STAGING))
    version = tmp_path / "serving" / push.STAGING / "x" / "1700000000"
    version.mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"model")

    final = push.publish(str(version), str(serving))
    assert final == str(serving / "1700000000")
    assert (serving / "1700000000" / "saved_model.pb").read_bytes() == b"model"
    assert not version.exists()

    version.mkdir(parents=True)
    with pytest.raises(FileExistsError, match="never overwritten"):
        push.publish(str(version), str(serving))

    push.discard(str(serving / push.STAGING / "x"))
    assert sorted(p.name for p in serving.iterdir()) == ["1700000000"]  # the staging folder is gone too
