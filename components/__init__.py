"""Custom TFX components and module files of the framework."""
# `pipelines` sets TF_USE_LEGACY_KERAS, which must be set before TensorFlow is first imported: a
# component's module may be the first thing a process imports (a Beam worker, the tfx CLI).
import pipelines  # noqa: F401
