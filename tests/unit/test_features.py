"""What the feature and label specs say about themselves: sizes, categorical or not, label columns."""
import pytest

from components.modules import features as F
from pipelines.config import load_config


@pytest.fixture
def taxi(project):
    return load_config(project / "configs" / "taxi.yaml")


def feature(cfg, name):
    return next(f for f in cfg.features if f.name == name)


def test_cardinalities(taxi):
    assert feature(taxi, "trip_start_hour").cardinality() == 26  # 0..23, one id for the rest, one for missing
    assert feature(taxi, "pickup_latitude").cardinality() == 10
    assert feature(taxi, "company").cardinality(vocabulary_size=100) == 110  # + 10 OOV buckets
    with pytest.raises(ValueError, match="vocabulary size"):
        feature(taxi, "company").cardinality()
    with pytest.raises(ValueError, match="not categorical"):
        feature(taxi, "fare").cardinality()
    assert [f.name for f in taxi.features if not f.categorical] == ["trip_miles", "fare", "trip_seconds"]


def test_label_columns_are_only_those_not_used_as_features(taxi, project):
    assert F.label_columns(taxi) == {"tips"}  # fare is a feature too, so serving requests carry it
    penguin = load_config(project / "configs" / "penguin.yaml")
    assert F.label_columns(penguin) == {"species"}
    assert penguin.label.head == "multiclass" and taxi.label.head == "binary"


def test_hidden_units_round_trip_through_a_tuner_choice():
    assert F.hidden_units_to_choice([128, 64]) == "128-64"
    assert F.hidden_units_from_choice("128-64") == [128, 64]
