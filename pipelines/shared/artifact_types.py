"""Custom artifact types that one component writes and another reads (each defined once, here)."""
from tfx.types.artifact import Artifact


class ReferenceArtifact(Artifact):
    """The ReferenceModel component's scores (pipelines/shared/reference_model.py's file)."""

    TYPE_NAME = "mlops.ReferenceModel"  # <namespace>.<Title>: what Kubeflow's compiler accepts for a custom type
