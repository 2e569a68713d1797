"""Beam arguments for local runs, by data size and config."""
import pytest

from pipelines.config import load_config
from pipelines.runners.local import MB, beam_args


@pytest.fixture
def taxi(project):
    return load_config(project / "configs" / "taxi.yaml")


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
