"""The ML Metadata store a config names: a SQLite file, or a MySQL/MariaDB server a team shares.

TFX's helper for MySQL has no SSL or socket options and MLMD's own errors are cryptic (a wrong
password reads "mysql_real_connect failed: errno: , error: "). The ConnectionConfig is built here,
the server is probed first (seconds, not MLMD's long timeouts), and each failure gets a message that
names host, port, user and database and the likely cause, never the password.
"""
from __future__ import annotations

import os
import socket
import time

from pipelines.config import PipelineConfig
from pipelines.config.platform import MySqlConfig
from pipelines.shared.errors import MlopsError
from pipelines.shared.masking import mask

PROBE_TIMEOUT_SECONDS = 3
SCHEMA_RACE_RETRIES = 5


class MetadataConnectionError(MlopsError, RuntimeError):
    """The store cannot be opened; the message is safe to print."""


def connection_config(cfg: PipelineConfig, create: bool = True):
    """`create`: a SQLite store that does not exist yet is made (running); without, it is an error (reading)."""
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    if cfg.metadata.backend == "sqlite":
        folder = os.path.dirname(cfg.sqlite_path)
        if create:
            try:
                os.makedirs(folder, exist_ok=True)
            except OSError as e:
                raise MetadataConnectionError(f"{where(cfg)}: cannot create {folder} ({e.strerror}): "
                                              "check output_root (or metadata.sqlite_path)") from None
        elif not os.path.isfile(cfg.sqlite_path):
            raise MetadataConnectionError(f"{where(cfg)}: no store there: nothing has run with this config "
                                          "(or output_root / metadata.sqlite_path points elsewhere)")
        config.sqlite.filename_uri = cfg.sqlite_path
        modes = metadata_store_pb2.SqliteMetadataSourceConfig
        config.sqlite.connection_mode = modes.READWRITE_OPENCREATE if create else modes.READWRITE
        return config
    mysql = mysql_settings(cfg)
    config.mysql.host, config.mysql.port = mysql.host, mysql.port
    config.mysql.database, config.mysql.user = mysql.database, mysql.user
    if mysql.password_env:
        password = os.environ.get(mysql.password_env)
        if password is None:
            raise MetadataConnectionError(f"{where(cfg)}: the environment variable {mysql.password_env} "
                                          "(metadata.mysql.password_env) is not set")
        config.mysql.password = password
    if mysql.socket:
        config.mysql.socket = mysql.socket
    if mysql.ssl:
        for name in ("key", "cert", "ca", "capath", "cipher"):
            value = getattr(mysql.ssl, name)
            if value:
                setattr(config.mysql.ssl_options, name, cfg.resolve(value) if name != "cipher" else value)
        config.mysql.ssl_options.verify_server_cert = mysql.ssl.verify_server_cert
    return config


def secrets(cfg: PipelineConfig) -> list[str]:
    """Values that must never be printed or logged."""
    mysql = cfg.metadata.mysql
    if cfg.metadata.backend == "mysql" and mysql and mysql.password_env and os.environ.get(mysql.password_env):
        return [os.environ[mysql.password_env]]
    return []


def mysql_settings(cfg: PipelineConfig) -> MySqlConfig:
    """metadata.mysql, which the config's validation requires with backend: mysql."""
    if cfg.metadata.mysql is None:
        raise MetadataConnectionError(f"{cfg.source}: metadata.mysql: needed with backend: mysql")
    return cfg.metadata.mysql


def where(cfg: PipelineConfig) -> str:
    """user@host:port/database (or the socket), for messages. Never the password."""
    if cfg.metadata.backend == "sqlite":
        return f"ML Metadata at {cfg.sqlite_path}"
    mysql = mysql_settings(cfg)
    address = f"socket {mysql.socket}" if mysql.socket else f"{mysql.host}:{mysql.port}"
    return f"MySQL {mysql.user}@{address}/{mysql.database}"


def probe(cfg: PipelineConfig) -> None:
    """Fails within seconds when nothing answers where the config says the server is."""
    if cfg.metadata.backend != "mysql":
        return
    mysql = mysql_settings(cfg)
    family, address = (socket.AF_UNIX, mysql.socket) if mysql.socket else (socket.AF_INET, (mysql.host, mysql.port))
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(PROBE_TIMEOUT_SECONDS)
            s.connect(address)
    except socket.gaierror as e:
        raise MetadataConnectionError(f"{where(cfg)}: unknown host {mysql.host!r} ({e.strerror})") from None
    except socket.timeout:
        raise MetadataConnectionError(f"{where(cfg)}: no answer within {PROBE_TIMEOUT_SECONDS} s "
                                      "(a firewall, or the wrong host or port)") from None
    except OSError as e:
        raise MetadataConnectionError(f"{where(cfg)}: cannot connect ({e.strerror}): is the server running and "
                                      "listening there (bind-address, port)?") from None


def open_store(cfg: PipelineConfig, create: bool = True):
    """An ml_metadata MetadataStore, or MetadataConnectionError with the likely cause."""
    import ml_metadata as mlmd

    config = connection_config(cfg, create)
    probe(cfg)
    for attempt in range(SCHEMA_RACE_RETRIES):
        try:
            return mlmd.MetadataStore(config)
        except Exception as error:  # MLMD raises its own error types, with text such as the above
            # Two processes creating MLMD's tables in an empty database at once: MLMD asks to retry, or
            # MySQL/MariaDB reports a deadlock ("try restarting transaction"), which is as retryable.
            text = str(error).lower()
            if ("retry" in text or "deadlock" in text) and attempt + 1 < SCHEMA_RACE_RETRIES:
                time.sleep(1 + attempt)
                continue
            raise _explained(cfg, config, error) from None


def _explained(cfg: PipelineConfig, config, error: Exception) -> MetadataConnectionError:
    text = mask(str(error), [config.mysql.password])
    if cfg.metadata.backend == "mysql" and "mysql_real_connect" in text:
        mysql = mysql_settings(cfg)
        hint = (f"the password comes from ${mysql.password_env}" if mysql.password_env
                else "no password_env is set, so no password was sent")
        return MetadataConnectionError(
            f"{where(cfg)}: the server answered but refused the login: wrong password or unknown user, "
            f"or {mysql.user!r} may not connect from this host or use database {mysql.database!r} "
            f"({hint}; MLMD said: {text.strip()})")
    return MetadataConnectionError(f"{where(cfg)}: {type(error).__name__}: {text}")


def open_reader(cfg: PipelineConfig):
    """A MetadataReader on the config's existing store, for the config's pipeline (never creates a store)."""
    from pipelines.metadata.reader import MetadataReader

    return MetadataReader(open_store(cfg, create=False), cfg.name)
