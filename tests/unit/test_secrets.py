"""A secret is masked in every form a library may write it: raw, protobuf text, JSON, repr."""
import json
import logging

import pytest

from pipelines.shared.console import mask_secrets
from pipelines.shared.masking import mask

AWKWARD = ['pa"ss', "back\\slash", "it's", "tab\there", "pässwörd", "日本語-key", "new\nline"]


@pytest.mark.parametrize("password", AWKWARD)
def test_every_encoding_of_a_password_is_masked(password):
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.mysql.host, config.mysql.password = "127.0.0.1", password
    for written in (str(config), config.SerializeToString().decode("utf-8", "replace"), json.dumps(password),
                    json.dumps(password, ensure_ascii=False), repr(password), repr(password.encode()),
                    f"password={password}"):
        assert "***" in mask(written, [password]), written
        assert password not in mask(written, [password])
    # protobuf text, where LocalDagRunner logs it: nothing of the password is left
    text = mask(str(config), [password])
    assert 'password: "***"' in text, text


def test_log_records_are_masked_in_their_protobuf_form(caplog):
    from ml_metadata.proto import metadata_store_pb2

    factory = logging.getLogRecordFactory()
    try:
        mask_secrets(['s3cr"t-ü'])
        config = metadata_store_pb2.ConnectionConfig()
        config.mysql.password = 's3cr"t-ü'
        with caplog.at_level(logging.INFO):
            logging.getLogger("tfx").info("MetadataStore with config %s", config)
        assert 'password: "***"' in caplog.text and "s3cr" not in caplog.text
    finally:
        logging.setLogRecordFactory(factory)


def test_a_password_given_where_it_does_not_belong_is_never_echoed(project):
    from pipelines.config import ConfigError, load_config

    config = project / "configs" / "taxi.yaml"
    for overrides in (["metadata.backend=mysql", "metadata.mysql.database=m", "metadata.mysql.user=u",
                       "metadata.mysql.password=hunter2-secret"],
                      ["metadata.backend=mysql", "metadata.mysql.database=m", "metadata.mysql.user=u",
                       "metadata.mysql.password_env=hunter2 secret!"],
                      ["metadata.mysql.password=[hunter2-secret"]):
        with pytest.raises(ConfigError) as error:
            load_config(config, overrides)
        assert "hunter2" not in str(error.value), str(error.value)
        assert "password" in str(error.value)


@pytest.mark.parametrize("pasted", ["3f9a0c41d27be85f6a1390c4e7d2b58a9f0c3e1d7b6a5f4e3d2c1b0a99887766",
                                    "k8J2mQ9xR4vT7wZ1pL5nB3cF6hD0sG2a", "s3cr3t+key/with=base64chars0123"])
def test_a_key_pasted_as_the_name_of_its_variable_is_never_echoed(project, pasted):
    from pipelines.config import ConfigError, load_config

    with pytest.raises(ConfigError) as error:
        load_config(project / "configs" / "taxi.yaml", [f"privacy.key_env={pasted}"])
    assert pasted not in str(error.value) and pasted[:12] not in str(error.value)
    assert "privacy.key_env" in str(error.value)


def test_variable_names_are_not_taken_for_keys():
    from pipelines.shared.pseudonyms import looks_like_a_key

    assert not any(looks_like_a_key(n) for n in ("MLOPS_PSEUDONYM_KEY", "PSEUDONYM_KEY_2024_PROD", "my_key"))


def test_a_key_file_is_read_with_a_size_limit(tmp_path):
    from pipelines.shared.pseudonyms import PseudonymKeyError, read_key

    with pytest.raises(PseudonymKeyError, match="holds more than 4096 characters: not a key file"):
        read_key(key_file="/dev/zero")  # endless: read up to the limit only
    (tmp_path / "key").write_text("k" * 40 + "\n")
    assert read_key(key_file=str(tmp_path / "key")).source == str(tmp_path / "key")
