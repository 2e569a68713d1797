"""Secrets (the MySQL password) in every form a library may write them, and text with all of them masked.
Imports nothing of the project: the console, the metadata store and the CLI all mask with it."""
from __future__ import annotations


def secret_forms(secret: str) -> list[str]:
    """Every way a library may write `secret`: as it is, escaped as protobuf text (LocalDagRunner logs the
    MySQL connection config so: `"` becomes `\\"`, non-ASCII becomes octal escapes), as JSON, as Python's
    repr of the text and of its UTF-8 bytes. Longest first, so that no form is left half masked."""
    import json

    from google.protobuf import text_encoding

    forms = {secret, text_encoding.CEscape(secret.encode(), as_utf8=False), text_encoding.CEscape(secret, as_utf8=True),
             json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1], repr(secret)[1:-1],
             repr(secret.encode())[2:-1]}
    return sorted((f for f in forms if f), key=len, reverse=True)


def mask(text: str, secrets: list[str]) -> str:
    """`text` with every form of every secret replaced by ***."""
    for secret in secrets:
        for form in secret_forms(secret) if secret else ():
            text = text.replace(form, "***")
    return text
