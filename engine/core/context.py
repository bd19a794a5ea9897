"""What every service needs: settings, the database, the clock, the caches, the sandbox."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from engine.core.caches import DefinitionCache, TtlCache
from engine.core.clock import Clock, SystemClock
from engine.core.config import Settings
from engine.db.session import make_engine
from engine.db.uow import UnitOfWork, session_factory
from engine.spiff.expressions.sandbox import SandboxedScriptEngine
from engine.spiff.model.specs import SpecCache
from engine.spiff.runtime.budget import StepLimits


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
        self.limits = step_limits(self.settings)
        if self.script_engine is None:
            self.script_engine = SandboxedScriptEngine(time_limit=self.settings.script_time_limit)
        self._sessions = {write: session_factory(self.db, write) for write in (True, False)}

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> EngineContext:
        return cls(settings=settings, db=make_engine(settings.database_url), clock=clock or SystemClock())

    def uow(self, write: bool = True) -> UnitOfWork:
        """A new unit of work; writers on SQLite take the write lock at BEGIN."""
        return UnitOfWork(self._sessions[write], self.db.dialect.name, self.settings)  # settings: session.info


def step_limits(settings: Settings) -> StepLimits:
    """The budget of one engine step, from the settings; raises ValueError for a limit below 1."""
    return StepLimits(
        max_tasks=settings.step_task_limit,
        max_seconds=settings.step_time_limit,
        max_call_depth=settings.call_depth_limit,
        max_instances=settings.multi_instance_limit,
    )
