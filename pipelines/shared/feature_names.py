"""How a feature's name appears where TensorFlow uses it (op, layer and file names): shared by the model's
modules, which write the vocabularies, and by whatever reads them from a served version."""
from __future__ import annotations

import hashlib
import re


def safe_name(name: str) -> str:
    """A column's name as TensorFlow may use it in op, scope, layer and file names: the name itself when it is
    letters, digits and '_' (starting with a letter), else those characters kept, the rest '_', and a digest of
    the real name so that two names never meet ("Passenger Id" -> "Passenger_Id_3f2a9c"). Raw examples, the
    config, the schema, requests and predictions keep the real name."""
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        return name
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", name.encode("ascii", "replace").decode())
    return f"f_{cleaned}_{hashlib.sha1(name.encode()).hexdigest()[:6]}"


def vocabulary_name(feature) -> str:
    """The file name of a string feature's vocabulary inside the transform graph (and the served model's assets)."""
    return safe_name(feature.name)
