"""Make libraries built for TF 2.16's Keras 3 behave with tf_keras, the Keras 2 that TFX 1.16 needs.

Called on import by the module files (preprocessing, model), in whatever process runs them.
"""
import importlib

from tensorflow.python.autograph.core import config as autograph_config

# AutoGraph skips the `keras` package (core/config.py: DoNotConvert('keras')) but not `tf_keras`: the
# first `fit` in a process then converts hundreds of Keras functions (measured here: 33 s of a 35 s
# first `fit` on the taxi model, 1 s once tf_keras is skipped). tf.Transform's code needs no conversion either.
AUTOGRAPH_SKIPPED = ("tf_keras", "tensorflow_transform")


def skip_library_conversion() -> None:
    rules = autograph_config.CONVERSION_RULES
    missing = [name for name in AUTOGRAPH_SKIPPED
               if not any(isinstance(r, autograph_config.DoNotConvert) and r.matches(name) for r in rules)]
    autograph_config.CONVERSION_RULES = tuple(autograph_config.DoNotConvert(n) for n in missing) + rules


def bind_keras_tuner_to_tf_keras() -> None:
    """keras-tuner picks its Keras at import time from `import keras`: Keras 3 here (TF 2.16 installs it),
    and TFX imports keras-tuner before any module file runs. It then rejects tf_keras models ("Expected
    the model-building function ... to return a valid Keras Model instance"). Its backend modules are
    re-imported in place in their Keras 2 form, so every keras-tuner module sees tf.keras (= tf_keras)."""
    from keras_tuner.src.backend import config, io, keras, ops, random

    if not config.multi_backend():
        return
    config._MULTI_BACKEND = False
    for module in (keras, ops, random, io):
        importlib.reload(module)


def use_tf_keras() -> None:
    skip_library_conversion()
    bind_keras_tuner_to_tf_keras()
