"""The unit of work: one transaction per request or engine step, rolled back unless committed."""

from __future__ import annotations

from types import TracebackType
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Result
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine.core.config import Settings
from engine.core.errors import Conflict, InvalidInput

_NUL_REFUSED = (  # how PostgreSQL refuses a NUL character: in text, and as \u0000 in a json column
    "NUL (0x00)",
    "unsupported Unicode escape sequence",
)
SETTINGS = "pmoflow_settings"  # session.info: the Settings of the unit of work (for event subscribers)


def session_factory(engine: Engine, write: bool) -> sessionmaker[Session]:
    """Sessions for units of work on `engine`; writers on SQLite take the write lock at BEGIN."""
    bind = engine.execution_options(pmoflow_write=True) if write else engine
    return sessionmaker(bind=bind, expire_on_commit=False, autoflush=True)


class UnitOfWork:
    """`with uow: ...; uow.commit()`. Leaving the block without commit rolls back."""

    def __init__(self, factory: sessionmaker[Session], dialect: str, settings: Settings | None = None) -> None:
        self._factory = factory
        self.dialect = dialect
        self.settings = settings
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        if self.settings is not None:
            self.session.info[SETTINGS] = self.settings
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()
        if isinstance(exc, StaleDataError):
            raise Conflict("the process instance changed at the same time; reload and try again") from exc
        if isinstance(exc, DataError) and any(m in str(exc.orig) for m in _NUL_REFUSED):  # SQLite keeps NUL
            raise InvalidInput("text may not contain NUL characters") from exc

    def commit(self) -> None:
        self.session.commit()

    def flush(self) -> None:
        self.session.flush()


def settings_of(session: Session) -> Settings | None:
    """The Settings of the unit of work `session` belongs to (None for a bare session)."""
    return session.info.get(SETTINGS)


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE run by `Session.execute` changed (SQLAlchemy types the answer
    as a plain Result; for those statements it is a CursorResult, which counts them)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)
