"""Keyed pseudonyms: each value of a pseudonymised column becomes HMAC-SHA256(key, value), shown as 32 hex
digits (128 bits: no two values of any real table share one).

One-way and deterministic: the same key gives the same pseudonym in every span, in `mlops predict` and in
`mlops forget`, so joins keep working; without the key nobody can compute the pseudonym of a guessed value
(a plain hash of a customer number can be reversed by hashing every number). The key is read from an
environment variable or a file, never from the config; what is recorded is its identifier, an HMAC of a
fixed text, which tells keys apart without revealing them. Standard library only (pyarrow for columns).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from typing import Iterable, Optional

from pipelines.shared.errors import UsageError

DEFAULT_KEY_ENV = "MLOPS_PSEUDONYM_KEY"
# Inside an Examples artifact: span-<N>.txt, the ID column's pseudonyms in that span's rows, one a line, sorted.
INDEX_DIR = "pseudonym_index"
# A JSON custom property of ExampleGen's Examples: the key's id, what was pseudonymised, dropped and left out,
# and the k-anonymity of the rows written.
PRIVACY_PROPERTY = "privacy"
# StatisticsGen's parameter (JSON list): the columns whose statistics hold counts only.
HIDDEN_COLUMNS = "hidden_columns"
# A custom property of Examples, Model and PushedModel artifacts: the forget requests (execution ids, comma-
# separated) whose rows they held.
FORGOTTEN_BY = "forgotten_by"
MIN_KEY_CHARS = 32   # e.g. `openssl rand -hex 32`: a short key can be guessed, and with it every pseudonym
DIGITS = 32
KEY_ID_TEXT = b"mlops pseudonym key id"


class PseudonymKeyError(UsageError):
    """The pseudonym key is missing or unusable; the message names the variable or file."""


@dataclass(frozen=True)
class Key:
    secret: bytes
    source: str  # "$MLOPS_PSEUDONYM_KEY" or the file's path: what a message may name

    @property
    def key_id(self) -> str:
        return hmac.new(self.secret, KEY_ID_TEXT, hashlib.sha256).hexdigest()[:16]

    def __repr__(self) -> str:  # never the secret, in a log or a traceback
        return f"Key(source={self.source!r}, key_id={self.key_id!r})"


MAX_KEY_FILE_CHARS = 4096  # a key file holds one key: more is another file named by mistake


def looks_like_a_key(name: str) -> bool:
    """Whether an environment variable's name given in a config is rather a secret pasted in its place: long,
    with digits among letters, not the UPPER_CASE words variables are named with."""
    return len(name) >= 20 and any(c.isdigit() for c in name) and not re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*", name)


def read_key(key_env: str = DEFAULT_KEY_ENV, key_file: Optional[str] = None, where: str = "privacy") -> Key:
    """The key from `key_file` when given, else from the environment variable `key_env`; PseudonymKeyError naming
    the config field and the variable or file when it is missing, unreadable or too short."""
    if key_file:
        try:
            with open(key_file, encoding="utf-8") as f:
                text, source = f.read(MAX_KEY_FILE_CHARS + 1).strip(), key_file  # /dev/zero would never end
        except (OSError, UnicodeDecodeError) as e:
            raise PseudonymKeyError(f"{where}.key_file: cannot read the pseudonym key from {key_file} ({e})") from None
        if len(text) > MAX_KEY_FILE_CHARS:
            raise PseudonymKeyError(f"{where}.key_file: {key_file} holds more than {MAX_KEY_FILE_CHARS} characters: "
                                    "not a key file (the key alone, e.g. from openssl rand -hex 32)")
        field = f"{where}.key_file ({key_file})"
    else:
        text, source = os.environ.get(key_env, "").strip(), f"${key_env}"
        if not text:
            raise PseudonymKeyError(f"{where}.key_env: the environment variable {key_env} holds no pseudonym key; set it "
                            f"to a secret of at least {MIN_KEY_CHARS} characters (e.g. export {key_env}=$(openssl "
                            "rand -hex 32)) and keep it: another key gives other pseudonyms")
        field = f"{where}.key_env ({key_env})"
    if len(text) < MIN_KEY_CHARS:
        raise PseudonymKeyError(f"{field}: the pseudonym key has {len(text)} characters; at least {MIN_KEY_CHARS} are "
                        "needed (e.g. openssl rand -hex 32)")
    return Key(text.encode("utf-8"), source)


def write_index(examples_uri: str, ids_by_span: dict[int, list[str]]) -> None:
    from pipelines.shared.artifact_files import fileio

    directory = f"{examples_uri}/{INDEX_DIR}"
    fileio().makedirs(directory)
    for span, ids in ids_by_span.items():
        with fileio().open(f"{directory}/span-{span}.txt", "w") as f:
            f.write("".join(f"{i}\n" for i in ids))


def spans_holding(examples_uri: str, wanted: set[str]) -> dict[int, list[str]]:
    """{span: the wanted pseudonyms its rows hold} from an Examples artifact's index (spans holding none left
    out); an artifact without an index holds none that can be found."""
    from pipelines.shared import artifact_files

    found: dict[int, list[str]] = {}
    for path in artifact_files.glob(f"{examples_uri}/{INDEX_DIR}/span-*.txt"):
        with artifact_files.open_file(path, "r") as f:
            held = sorted(wanted.intersection(line.strip() for line in f))
        if held:
            found[int(path.rsplit("span-", 1)[1][:-len(".txt")])] = held
    return found


def pseudonym(key: Key, value: str) -> str:
    return hmac.new(key.secret, value.encode("utf-8"), hashlib.sha256).hexdigest()[:DIGITS]


def pseudonyms(key: Key, values: Iterable[str]) -> list[str]:
    return [pseudonym(key, v) for v in values]


def pseudonymize_array(key: Key, values):
    """A pyarrow array of text with every value replaced by its pseudonym (missing stays missing). Each
    distinct value is computed once: IDs repeat across a customer's rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = values if pa.types.is_string(values.type) or pa.types.is_large_string(values.type) \
        else pc.cast(values, pa.string())
    encoded = pc.dictionary_encode(text).combine_chunks() if isinstance(text, pa.ChunkedArray) \
        else pc.dictionary_encode(text)
    dictionary = pa.array(pseudonyms(key, encoded.dictionary.to_pylist()), pa.string())
    return pc.take(dictionary, encoded.indices)
