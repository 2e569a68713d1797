"""What a model server should serve, as version labels, and how to get there without a failed request.

TF Serving routes by version labels and never splits traffic itself; a label may only point at a loaded
version, and each reload replaces the whole config. So every rollout is a change from one ServingState
(the loaded version folders and the labels on them) to another, made in up to three reloads:
load the new versions, move the labels, unload what no label points at any more.

Plain functions: no TensorFlow, no gRPC; the server and ML Metadata sides are in server.py and
pipelines/metadata/rollouts.py.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Optional

from pipelines.shared.errors import MlopsError

STABLE, CANARY = "stable", "canary"
MODES = ("canary", "shadow")


class RolloutError(MlopsError, ValueError):
    """A rollout step that does not fit the current state; the message says what to do instead."""


@dataclass(frozen=True)
class ServingState:
    """Labels -> version folder numbers; the loaded versions are exactly those the labels point at.
    `percent` and `mode` are for clients: TF Serving does not split traffic, the caller picks the label."""

    labels: dict = field(default_factory=dict)
    percent: int = 0
    mode: str = "canary"

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.labels.values())))

    @property
    def stable(self) -> Optional[int]:
        return self.labels.get(STABLE)

    @property
    def canary(self) -> Optional[int]:
        return self.labels.get(CANARY)


@dataclass(frozen=True)
class Reload:
    """One config sent to the server: versions to have loaded, and the labels."""

    versions: tuple[int, ...]
    labels: dict
    wait_for: tuple[int, ...] = ()  # versions to see AVAILABLE after this reload, before the next one


def transition(current: ServingState, target: ServingState) -> list[Reload]:
    """The reloads from `current` to `target` that keep every label on an AVAILABLE version throughout."""
    steps = []
    new_versions = tuple(v for v in target.versions if v not in current.versions)
    loaded = tuple(sorted(set(current.versions) | set(target.versions)))
    if new_versions:
        steps.append(Reload(loaded, dict(current.labels), wait_for=new_versions))
    if target.labels != current.labels:
        steps.append(Reload(loaded, dict(target.labels)))
    if loaded != target.versions:
        steps.append(Reload(target.versions, dict(target.labels)))
    return steps


# --- the rollout steps ---------------------------------------------------------


def first_serving(latest_version: int) -> ServingState:
    return ServingState({STABLE: latest_version})


def start_canary(current: ServingState, version: int, percent: int, mode: str) -> ServingState:
    if current.stable is None:
        raise RolloutError("nothing is served yet: run `mlops serve` first")
    if version == current.stable:
        raise RolloutError("that version is already the stable one: canary another (see `mlops models`)")
    if not 0 <= percent <= 100:
        raise RolloutError(f"--percent must be 0..100, not {percent}")
    if mode not in MODES:
        raise RolloutError(f"mode must be one of {', '.join(MODES)}, not {mode}")
    return ServingState({STABLE: current.stable, CANARY: version}, percent, mode)


def promote(current: ServingState, version: Optional[int] = None) -> ServingState:
    """The canary (or, blue/green, any version) becomes stable; the previous stable is unloaded."""
    if version is None:
        if current.canary is None:
            raise RolloutError("no canary to promote: give a version to switch to (blue/green)")
        version = current.canary
    return ServingState({STABLE: version})


def abort(current: ServingState) -> ServingState:
    if current.canary is None:
        raise RolloutError("no canary to abort")
    return ServingState({STABLE: current.stable})


def rollback(current: ServingState, version: int) -> ServingState:
    """Stable moves back to an earlier version; a canary in progress ends."""
    if current.stable is None:
        raise RolloutError("nothing is served yet: run `mlops serve` first")
    return ServingState({STABLE: version})


# --- client-side routing -----------------------------------------------------------


def bucket(key: str) -> int:
    """0..99, stable across processes and machines (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % 100


def routes_to_canary(key: str, percent: int) -> bool:
    return bucket(key) < percent
