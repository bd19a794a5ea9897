"""What every service needs: settings, the database, the clock, the caches, the sandbox."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from engine.core.caches import DefinitionCache, TtlCache, WorkflowCache
from engine.core.clock import Clock, SystemClock
from engine.core.config import Settings
from engine.core.errors import InvalidInput
from engine.db.session import make_engine
from engine.db.uow import UnitOfWork, session_factory
from engine.spiff.expressions import isolation
from engine.spiff.expressions.sandbox import SandboxedScriptEngine
from engine.spiff.model.specs import SpecCache
from engine.spiff.runtime.budget import StepLimits
from engine.spiff.runtime.variables import oversized


@dataclass
class EngineContext:
    settings: Settings
    db: Engine
    clock: Clock = field(default_factory=SystemClock)
    specs: SpecCache = field(default_factory=SpecCache)
    script_engine: SandboxedScriptEngine | None = None
    definitions: DefinitionCache = field(default_factory=DefinitionCache)

    def __post_init__(self) -> None:
        self.tokens = TtlCache(self.settings.token_cache_seconds)  # engine.admin.users.actor_for_token
        self.workflows = WorkflowCache(self.settings.workflow_cache_size)  # engine.runtime.warm
        self.oidc = TtlCache(self.settings.oidc_cache_seconds, size=8)  # engine.sso.provider: discovery, keys
        self.limits = step_limits(self.settings)
        isolation.configure(self.settings)  # the sandbox's worker processes: how many, their memory budget
        if self.script_engine is None:
            self.script_engine = SandboxedScriptEngine(time_limit=self.settings.script_time_limit)
        self._sessions = {write: session_factory(self.db, write) for write in (True, False)}

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> EngineContext:
        return cls(settings=settings, db=make_engine(settings.database_url), clock=clock or SystemClock())

    def start_sandbox(self) -> None:
        """Start this process's sandbox worker processes now, in the background, so that the first script that
        needs one does not wait for it to start (long-running processes: `serve`, `worker`)."""
        isolation.pool()

    def uow(self, write: bool = True) -> UnitOfWork:
        """A new unit of work; writers on SQLite take the write lock at BEGIN."""
        return UnitOfWork(self._sessions[write], self.db.dialect.name, self.settings)  # settings: session.info


def check_bounds(values: Mapping[str, Any], limits: StepLimits, field: str = "variables") -> None:
    """Values coming in (variables, form data, decision inputs) nest at most `max_variable_depth` levels and
    take at most `max_variable_bytes` as JSON, so that every state saved can be loaded again; raises
    InvalidInput naming the first that does not fit."""
    problem = oversized(values, limits.max_variable_depth, limits.max_variable_bytes)
    if problem is not None:
        name, why = problem
        raise InvalidInput(f"{field}.{name} {why}", {"fields": {f"{field}.{name}": why}})


def step_limits(settings: Settings) -> StepLimits:
    """The budget of one engine step, from the settings; raises ValueError for a limit below 1."""
    return StepLimits(
        max_tasks=settings.step_task_limit,
        max_seconds=settings.step_time_limit,
        max_call_depth=settings.call_depth_limit,
        max_instances=settings.multi_instance_limit,
        max_variable_depth=settings.variable_max_depth,
        max_variable_bytes=settings.variable_max_bytes,
    )
