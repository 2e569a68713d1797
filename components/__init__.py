"""Custom TFX components and module files of the framework."""
import os

# TFX 1.16's Trainer, Transform and TFMA need Keras 2; this must be set before TensorFlow is first
# imported, and is inherited by every process the framework starts (Beam workers included).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
