"""The path of an instance so far (started, decided, completed, delegated, migrated, ...), as the task
page, the requester's page and the monitor show it: one line per event of the trail, in words a person
reads: people by their display names, decisions by their names ("Approval tier", not
`DecisionTable_approval_tier`), a decision value as a verb ("rejected", engine.core.outcomes.decided)
and how the instance ended (its outcome)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core import outcomes
from engine.db.models import DecisionDefinition, Event, User


@dataclass(frozen=True)
class Step:
    """One line of an instance's path: something that happened, by whom, with what."""

    at: datetime
    kind: str
    name: str
    actor: str | None
    decision: str | None = None  # the raw value of the task's decision field ("reject")
    comment: str | None = None
    to: str | None = None  # delegated / reassigned to
    on_behalf_of: str | None = None  # completed by a delegate for this owner
    verdict: str | None = None  # the decision as a person reads it after a name ("rejected")
    people: dict[str, str] = field(default_factory=dict)  # user name -> display name, for actor, to, on_behalf_of
    results: list[tuple[str, Any]] = field(default_factory=list)  # a decision table's outputs
    outcome: str | None = None  # instance_completed / instance_cancelled: the outcome (engine.core.outcomes)

    def shown(self, username: str | None) -> str:
        """A user as this line names them: their display name, else the user name."""
        return self.people.get(username or "", username or "the system")


PATH_EVENTS = (
    "instance_started",
    "task_completed",
    "decision_evaluated",
    "sla_breached",
    "task_reminder",
    "task_cancelled",
    "instance_completed",
    "instance_cancelled",
    "incident_raised",
    "message_received",
    "signal_received",
    "task_delegated",
    "task_reassigned",
    "instance_migrated",
)


def decision_of(submitted: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """The decision and comment in a task's submitted data (the form's decision field, fields named '...comment')."""
    submitted = submitted or {}
    value = outcomes.decision_in(submitted)
    comment = next((str(v) for k, v in submitted.items() if k.endswith("comment") and v), None)
    return (str(value) if value is not None else None), comment


def table_name(table_id: str) -> str:
    """A decision table's id as words when nothing better is known: DecisionTable_approval_tier -> Approval tier."""
    words = table_id.removeprefix("DecisionTable_").removeprefix("Decision_").replace("_", " ").replace("-", " ")
    return words.strip().capitalize() or table_id


def step_of(event: Event, decision_names: dict[str, str] | None = None) -> Step:
    """One event of the trail as a line of the path (`decision_names`: decision key -> its name)."""
    data = event.data or {}
    decision, comment = decision_of(data.get("data"))
    value = outcomes.decision_in(data.get("data") or {})
    name = data.get("name") or data.get("process") or event.type.replace("_", " ")
    results: list[tuple[str, Any]] = []
    outcome = None
    if event.type == "decision_evaluated":
        key = str(data.get("decision") or "")
        name = (decision_names or {}).get(key) or data.get("name") or table_name(str(data.get("decision_table") or key))
        outputs = data.get("outputs")
        results = list(outputs.items()) if isinstance(outputs, dict) else []
    if event.type in ("task_delegated", "task_reassigned"):
        comment = data.get("reason")
    if event.type == "instance_migrated":
        name, comment = f"version {data.get('from_version')} to version {data.get('to_version')}", data.get("reason")
    if event.type in ("instance_completed", "instance_cancelled"):
        outcome = data.get("outcome") or (outcomes.CANCELLED if event.type == "instance_cancelled" else None)
        comment = data.get("reason") if event.type == "instance_cancelled" else None
    return Step(
        event.occurred_at,
        event.type,
        str(name),
        event.actor,
        decision,
        comment,
        data.get("to"),
        data.get("on_behalf_of"),
        verdict=outcomes.decided(value) if value is not None else None,
        results=results,
        outcome=outcome,
    )


def display_names(session: Session, usernames: Iterable[str | None]) -> dict[str, str]:
    """User name -> display name for the users among `usernames` (one query; unknown names are left out)."""
    wanted = sorted({u for u in usernames if u})
    if not wanted:
        return {}
    rows = session.execute(select(User.username, User.display_name).where(User.username.in_(wanted))).all()
    return {username: shown or username for username, shown in rows}


def path_of(session: Session, instance_pk: int) -> list[Step]:
    """The path of an instance so far, as the task and request pages show it."""
    events = session.scalars(
        select(Event).where(Event.instance_id == instance_pk, Event.type.in_(PATH_EVENTS)).order_by(Event.id)
    ).all()
    keys = {str(e.data.get("decision")) for e in events if e.type == "decision_evaluated" and e.data.get("decision")}
    names: dict[str, str] = {}
    if keys:
        for key, name in session.execute(
            select(DecisionDefinition.key, DecisionDefinition.name)
            .where(DecisionDefinition.key.in_(sorted(keys)))
            .order_by(DecisionDefinition.version)
        ):
            if name:
                names[key] = name  # the latest version's name wins
    steps = [step_of(e, names) for e in events]
    people = display_names(session, [n for s in steps for n in (s.actor, s.to, s.on_behalf_of)])
    return [replace(s, people=people) for s in steps]
