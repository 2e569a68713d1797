"""Plain logic: feature sizes, label columns, Beam arguments by data size."""
import pytest

from components.modules import features as F
from pipelines.config import load_config
from pipelines.runners.local import MB, beam_args


@pytest.fixture
def taxi(project):
    return load_config(project / "configs" / "taxi.yaml")


def feature(cfg, name):
    return next(f for f in cfg.features if f.name == name)


def test_cardinalities(taxi):
    assert F.cardinality(feature(taxi, "trip_start_hour")) == 25  # 0..23 and one bucket for the rest
    assert F.cardinality(feature(taxi, "pickup_latitude")) == 10
    assert F.cardinality(feature(taxi, "company"), vocabulary_size=100) == 110  # + 10 OOV buckets
    with pytest.raises(ValueError, match="vocabulary size"):
        F.cardinality(feature(taxi, "company"))
    with pytest.raises(ValueError, match="not categorical"):
        F.cardinality(feature(taxi, "fare"))


def test_label_columns_are_only_those_not_used_as_features(taxi, project):
    assert F.label_columns(taxi) == {"tips"}  # fare is a feature too, so serving requests carry it
    penguin = load_config(project / "configs" / "penguin.yaml")
    assert F.label_columns(penguin) == {"species"}
    assert F.num_classes(penguin) == 3 and F.num_classes(taxi) == 2


def test_hidden_units_round_trip_through_a_tuner_choice():
    assert F.hidden_units_to_choice([128, 64]) == "128-64"
    assert F.hidden_units_from_choice("128-64") == [128, 64]


def test_beam_runs_in_process_for_small_data_and_in_parallel_for_large(taxi):
    assert beam_args(taxi, input_bytes=2 * MB)[:2] == ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
    large = beam_args(taxi, input_bytes=1024 * MB)
    assert large[0] == "--direct_running_mode=multi_processing"
    assert int(large[1].split("=")[1]) >= 1


def test_beam_mode_and_extra_args_from_config(project):
    cfg = load_config(project / "configs" / "taxi.yaml",
                      ["runner.beam.mode=multi_processing", "runner.beam.workers=3",
                       "runner.beam.extra_args=['--experiments=x']"])
    assert beam_args(cfg, input_bytes=1) == ["--direct_running_mode=multi_processing", "--direct_num_workers=3",
                                             "--experiments=x"]


def test_auto_mode_measures_the_configured_files(taxi):
    # The real 15k-row taxi CSV is about 2 MB: in-process.
    assert beam_args(taxi)[0] == "--direct_running_mode=in_memory"
