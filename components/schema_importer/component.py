"""TFX's ImportSchemaGen, re-run when the schema file's content changes.

TFX caches ImportSchemaGen on its parameters only, which is the file's path: editing the curated
schema in place kept the old Schema artifact, and nothing downstream was trained on the new one.
The content's digest is one more (unused by the executor) parameter, so the cache key follows it.
"""
from __future__ import annotations

import hashlib

from tfx import types
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen as TfxImportSchemaGen
from tfx.dsl.components.base import base_component
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter

from pipelines.shared.artifact_files import is_uri

DIGEST_KEY = "schema_sha256"


def file_digest(path: str) -> str:
    """sha256 of a local file; "" for object-store URIs, which are then cached by path as in TFX."""
    if is_uri(path):
        return ""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class ImportSchemaGenSpec(standard_component_specs.ImportSchemaGenSpec):
    PARAMETERS = {**standard_component_specs.ImportSchemaGenSpec.PARAMETERS, DIGEST_KEY: ExecutionParameter(type=str)}


class ImportSchemaGen(TfxImportSchemaGen):
    SPEC_CLASS = ImportSchemaGenSpec

    def __init__(self, schema_file: str, digest: str):
        """`digest`: file_digest() of the file the pipeline was built from (where `schema_file` may be
        the same file as another machine sees it, e.g. inside the Kubeflow image)."""
        spec = ImportSchemaGenSpec(schema_file=schema_file, schema=types.Channel(type=standard_artifacts.Schema),
                                   **{DIGEST_KEY: digest})
        base_component.BaseComponent.__init__(self, spec=spec)
