"""Which Beam runner a component's args choose."""
from __future__ import annotations


def names_remote_runner(args: list[str]) -> bool:
    """Whether Beam args choose a runner other than the DirectRunner (Beam's default), whose workers are this
    process and its children."""
    runners = [a.split("=", 1)[1] for a in args if a.startswith("--runner=")]
    runners += [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--runner"]
    return any(r.lower() not in ("direct", "directrunner") for r in runners)


def runs_in_this_process(args: list[str]) -> bool:
    """Whether Beam args leave the work in this process: the DirectRunner in its default in_memory mode, not
    multi_processing or multi_threading."""
    modes = [a.split("=", 1)[1] for a in args if a.startswith("--direct_running_mode=")]
    modes += [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--direct_running_mode"]
    return not names_remote_runner(args) and all(mode == "in_memory" for mode in modes)
