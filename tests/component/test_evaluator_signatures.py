"""The Evaluator's models take TFMA's positional call with the signature's keyword: the same outputs, without
TensorFlow's failed structured call (which formats the whole batch into an error message first)."""
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from apache_beam.internal import pickler
from tensorflow.python.eager.polymorphic_function import concrete_function

from components.evaluator import signatures

pytestmark = pytest.mark.component


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> str:
    """A SavedModel whose signatures take serialized examples, as the Trainer exports them."""
    class Model(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def evaluate(self, serialized):
            parsed = tf.io.parse_example(serialized, {"x": tf.io.FixedLenFeature([1], tf.float32)})
            return {"outputs": 2.0 * parsed["x"]}

    path = str(tmp_path_factory.mktemp("model"))
    model = Model()
    tf.saved_model.save(model, path, signatures={"evaluate": model.evaluate.get_concrete_function()})
    return path


def examples(*values: float) -> tf.Tensor:
    return tf.constant([tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[v]))})).SerializeToString() for v in values])


def flat_calls(call) -> int:
    """How many times TensorFlow fell back to the flat signature (after a failed structured call) in call()."""
    with mock.patch.object(concrete_function.ConcreteFunction, "_call_with_flat_signature", autospec=True,
                           side_effect=concrete_function.ConcreteFunction._call_with_flat_signature) as flat:
        call()
    return flat.call_count


def test_a_positional_call_passes_the_keyword_and_gives_the_same_outputs(saved_model):
    loaded = tf.saved_model.load(saved_model)
    shared = tfma.default_eval_shared_model(saved_model, eval_config=tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name="evaluate")]))
    model = signatures.with_keyword_signatures(shared).model_loader.load()
    batch = examples(1.0, 2.5)

    assert flat_calls(lambda: loaded.signatures["evaluate"](batch)) == 1  # what TFMA's call costs unwrapped
    assert flat_calls(lambda: model.signatures["evaluate"](batch)) == 0
    np.testing.assert_array_equal(model.signatures["evaluate"](batch)["outputs"].numpy(), [[2.0], [5.0]])
    np.testing.assert_array_equal(model.signatures["evaluate"](examples=batch)["outputs"].numpy(), [[2.0], [5.0]])
    # What TFMA reads off a signature and a model is the loaded one's.
    assert model.signatures["evaluate"].structured_input_signature == \
        loaded.signatures["evaluate"].structured_input_signature
    assert model.tensorflow_version == loaded.tensorflow_version


def test_a_candidate_and_its_baseline_are_both_wrapped_and_the_loaders_travel_to_beam_workers(saved_model):
    eval_config = tfma.EvalConfig(model_specs=[tfma.ModelSpec(name="candidate", signature_name="evaluate"),
                                               tfma.ModelSpec(name="baseline", signature_name="evaluate",
                                                              is_baseline=True)])
    models = [tfma.default_eval_shared_model(saved_model, model_name=name, eval_config=eval_config)
              for name in ("candidate", "baseline")]
    wrapped = signatures.with_keyword_signatures(models)
    assert [m.model_name for m in wrapped] == ["candidate", "baseline"]
    for shared in wrapped:
        loader = pickler.loads(pickler.dumps(shared.model_loader))
        assert isinstance(loader.load().signatures["evaluate"], signatures.KeywordCall)
