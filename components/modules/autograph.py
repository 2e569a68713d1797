"""Stop AutoGraph from rewriting tf_keras's own code on every first trace.

TensorFlow's AutoGraph skips the `keras` package (core/config.py: DoNotConvert('keras')) but not
`tf_keras`, the Keras 2 that TFX 1.16 runs under TF_USE_LEGACY_KERAS=1: the first `fit` in a
process then converts hundreds of Keras functions (measured here: 33 s of a 35 s first `fit`
on the taxi model, 1 s once tf_keras is skipped). Same rule, the package's new name.
"""
from tensorflow.python.autograph.core import config as autograph_config

LIBRARIES = ("tf_keras", "tensorflow_transform")


def skip_library_conversion() -> None:
    rules = autograph_config.CONVERSION_RULES
    missing = [name for name in LIBRARIES
               if not any(isinstance(r, autograph_config.DoNotConvert) and r.matches(name) for r in rules)]
    autograph_config.CONVERSION_RULES = tuple(autograph_config.DoNotConvert(n) for n in missing) + rules
