"""The Evaluator's baseline: the newest blessed model other than the candidate."""
from components.baseline_resolver.strategy import latest_blessed_other_than


class FakeArtifact:
    def __init__(self, id, **props):
        self.id, self.props = id, props

    def get_int_custom_property(self, name):
        return self.props.get(name, 0)


def blessing(id, model_id, blessed):
    return FakeArtifact(id, current_model_id=model_id, blessed=int(blessed))


def test_baseline_is_the_newest_blessed_model_other_than_the_candidate():
    models = [FakeArtifact(1), FakeArtifact(2), FakeArtifact(3)]
    blessings = [blessing(10, 1, True), blessing(11, 2, True), blessing(12, 3, False)]
    model, blessing_of = latest_blessed_other_than(models, blessings, candidate_ids={3})
    assert [m.id for m in model] == [2] and [b.id for b in blessing_of] == [11]
    # A re-run whose Trainer came from cache: the candidate is the newest blessed model itself.
    model, _ = latest_blessed_other_than(models, blessings, candidate_ids={2})
    assert [m.id for m in model] == [1]


def test_no_baseline_on_the_first_run():
    assert latest_blessed_other_than([FakeArtifact(1)], [], candidate_ids={1}) == ([], [])
