"""Queries over immutable, versioned definitions (processes and decisions alike)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session, joinedload

from engine.db.models import DecisionDefinition, ProcessDefinition

Versioned = TypeVar("Versioned", ProcessDefinition, DecisionDefinition)


_LATEST: dict[type, Select[Any]] = {}


def latest_version(session: Session, model: type[Versioned], key: str) -> Versioned | None:
    """The newest version of `key`, or None."""
    query = _LATEST.get(model)
    if query is None:               # built once per model: executing it then costs no statement building
        query = _LATEST[model] = select(model).where(model.key == bindparam("key")) \
            .order_by(model.version.desc()).limit(1)
    return session.scalars(query, {"key": key}).first()


def latest_of_each(session: Session, model: type[Versioned]) -> list[Versioned]:
    """The newest version of every key, by key."""
    latest = select(model.key, func.max(model.version).label("v")).group_by(model.key).subquery()
    return list(session.scalars(
        select(model).join(latest, (model.key == latest.c.key) & (model.version == latest.c.v))
        .options(joinedload(model.deployment)).order_by(model.key)
    ))


def all_versions(session: Session, model: type[Versioned], key: str) -> list[Versioned]:
    """Every version of `key`, newest first (empty if there is none)."""
    return list(session.scalars(
        select(model).where(model.key == key).options(joinedload(model.deployment))
        .order_by(model.version.desc())
    ))
