"""Queries over immutable, versioned definitions (processes and decisions alike)."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from engine.db.models import DecisionDefinition, ProcessDefinition

Versioned = TypeVar("Versioned", ProcessDefinition, DecisionDefinition)


def latest_version(session: Session, model: type[Versioned], key: str) -> Versioned | None:
    """The newest version of `key`, or None."""
    return session.scalars(
        select(model).where(model.key == key).order_by(model.version.desc()).limit(1)
    ).first()


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
