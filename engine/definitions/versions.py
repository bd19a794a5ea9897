"""Queries over immutable, versioned definitions (processes and decisions alike)."""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session, joinedload

from engine.db.models import DecisionDefinition, ProcessDefinition

Versioned = TypeVar("Versioned", ProcessDefinition, DecisionDefinition)


# Statements are built once per model (functools.cache): executing them then costs no statement building.
def _newest(model: type[Versioned], *columns: Any) -> Select[Any]:
    return select(*columns).where(model.key == bindparam("key")).order_by(model.version.desc()).limit(1)


@cache
def _latest_row(model: type[Versioned]) -> Select[Any]:
    return _newest(model, model)


@cache
def _latest_id(model: type[Versioned]) -> Select[Any]:
    return _newest(model, model.id)


@cache
def _version_id(model: type[Versioned]) -> Select[Any]:
    return select(model.id).where(model.key == bindparam("key"), model.version == bindparam("version"))


def latest_version(session: Session, model: type[Versioned], key: str) -> Versioned | None:
    """The newest version of `key`, or None."""
    return session.scalars(_latest_row(model), {"key": key}).first()


def version_id(session: Session, model: type[Versioned], key: str, version: int | None) -> int | None:
    """The id of the given (or, for None, the newest) version of `key`, or None: one indexed read."""
    found: int | None = (
        session.scalar(_latest_id(model), {"key": key})
        if version is None
        else session.scalar(_version_id(model), {"key": key, "version": version})
    )
    return found


def find_version(session: Session, model: type[Versioned], key: str, version: int | None) -> Versioned | None:
    """The given (or, for None, the newest) version of `key`, or None."""
    row_id = version_id(session, model, key, version)
    return session.get(model, row_id) if row_id is not None else None


def latest_of_each(session: Session, model: type[Versioned]) -> list[Versioned]:
    """The newest version of every key, by key."""
    latest = select(model.key, func.max(model.version).label("v")).group_by(model.key).subquery()
    return list(
        session.scalars(
            select(model)
            .join(latest, (model.key == latest.c.key) & (model.version == latest.c.v))
            .options(joinedload(model.deployment))
            .order_by(model.key)
        )
    )


def all_versions(session: Session, model: type[Versioned], key: str) -> list[Versioned]:
    """Every version of `key`, newest first (empty if there is none)."""
    return list(
        session.scalars(
            select(model).where(model.key == key).options(joinedload(model.deployment)).order_by(model.version.desc())
        )
    )
