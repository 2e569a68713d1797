"""The command table and the one place errors become exit codes."""
import pytest

from pipelines.cli import app, errors
from pipelines.config import ConfigError
from pipelines.shared.csv_tables import UnreadableCsv
from pipelines.shared.errors import MlopsError


def test_the_config_is_the_first_positional_argument_of_every_command_that_takes_one():
    command, args = app.parse(["predict", "c.yaml", "d.csv", "-o", "p.csv"])
    assert (command.name, args.config, args.data, args.output) == ("predict", "c.yaml", "d.csv", "p.csv")
    command, args = app.parse(["rollout", "c.yaml", "canary", "1.2.0", "--percent", "5"])
    assert (args.config, args.action, args.version, args.percent) == ("c.yaml", "canary", "1.2.0", 5)
    _, args = app.parse(["runs", "--set", "model.train_steps=1"])
    assert args.config.endswith("configs/taxi.yaml") and args.overrides == ["model.train_steps=1"]
    _, args = app.parse(["init", "data.csv", "--label", "y"])
    assert not hasattr(args, "config")


def test_each_command_is_listed_once_with_its_help():
    names = [c.name for c in app.COMMANDS]
    assert len(names) == len(set(names)) == 17
    assert all(c.help and callable(c.run) for c in app.COMMANDS)


def test_a_commands_own_expectations_come_before_the_projects_exit_codes():
    unreadable = UnreadableCsv("data.csv: cannot read as CSV")  # a bad input (2) unless the command says otherwise
    assert errors.exit_code(unreadable, {}) == errors.EXIT_BAD_CONFIG
    assert errors.exit_code(unreadable, {ValueError: errors.EXIT_FAILED}) == errors.EXIT_FAILED
    assert errors.exit_code(ConfigError("bad"), {}) == errors.EXIT_BAD_CONFIG
    assert errors.exit_code(MlopsError("refused"), {}) == errors.EXIT_FAILED
    assert errors.exit_code(KeyError("x"), {}) is None  # not one the user can act on: the last net's line


def test_an_unexpected_error_is_one_line_and_a_known_one_its_message(capsys, monkeypatch):
    monkeypatch.delenv(errors.DEBUG_ENV, raising=False)
    assert errors.explain(LookupError("no run 7"), {LookupError: 1}) == 1
    assert capsys.readouterr().err == "error: no run 7\n"  # a KeyError's quotes are not added
    assert errors.explain(ZeroDivisionError("division by zero"), {}) == 1
    said = capsys.readouterr().err
    assert said.startswith("error: ZeroDivisionError: division by zero\n") and "MLOPS_DEBUG=1" in said
    monkeypatch.setenv(errors.DEBUG_ENV, "1")
    with pytest.raises(ZeroDivisionError):
        errors.explain(ZeroDivisionError("division by zero"), {})
