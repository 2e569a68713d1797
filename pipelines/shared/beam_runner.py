"""Which Beam runner a component's args choose."""
from __future__ import annotations


def flag_values(args: list[str], name: str) -> list[str]:
    """The values given to `--name`, written `--name=value` or `--name value`."""
    values = [a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")]
    return values + [args[i + 1] for i, a in enumerate(args[:-1]) if a == f"--{name}"]


def names_remote_runner(args: list[str]) -> bool:
    """Whether Beam args choose a runner other than the DirectRunner (Beam's default), whose workers are this
    process and its children."""
    return any(r.lower() not in ("direct", "directrunner") for r in flag_values(args, "runner"))


def runs_in_this_process(args: list[str]) -> bool:
    """Whether Beam args leave the work in this process: the DirectRunner in its default in_memory mode, not
    multi_processing or multi_threading."""
    return not names_remote_runner(args) and all(m == "in_memory" for m in flag_values(args, "direct_running_mode"))
