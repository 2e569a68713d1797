"""Pusher with the atomic executor: TFX's Pusher contract (model, model_blessing, infra_blessing)."""
from tfx.components import Pusher
from tfx.dsl.components.base import executor_spec

from components.atomic_pusher.executor import Executor


class AtomicPusher(Pusher):
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
