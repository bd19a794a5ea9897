"""Claim, give back or reassign several tasks at once, each on its own: one task's refusal (someone else
was faster, a rule bars the actor, the receiver is no candidate) never undoes or hides another's success.

Each task goes through the same service as one task does (`claims.claim`, `claims.unclaim`,
`collaboration.reassign`), so every rule holds as it does on the task page; the outcome of each,
with the domain error that refused it, is returned in the order the tasks were given.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from engine.core.context import EngineContext
from engine.core.errors import InvalidInput, PmoflowError
from engine.core.permissions import Actor, require
from engine.db.models import HumanTask
from engine.tasks import claims, collaboration

ACTIONS = {"claim": "Claimed", "unclaim": "Given back", "reassign": "Reassigned"}
MAX_TASKS = 100


@dataclass(frozen=True)
class Outcome:
    """What became of one task: `done` with a message, or the error that refused it."""

    task_id: str
    name: str
    done: bool
    message: str
    error: PmoflowError | None = None


def bulk_action(
    ctx: EngineContext, actor: Actor, action: str, task_ids: list[str], to: str = "", reason: str = ""
) -> list[Outcome]:
    """Apply `action` (claim, unclaim, reassign to `to` with `reason`) to each task on its own; raises
    InvalidInput for an unknown action, no tasks or too many, or a reassignment without a receiver or
    reason, Forbidden. Per-task refusals are outcomes, not exceptions."""
    require(actor, "task.read_own")
    if action not in ACTIONS:
        raise InvalidInput(f"action must be one of {', '.join(ACTIONS)}", {"fields": {"action": "unknown"}})
    ids = list(dict.fromkeys(t.strip() for t in task_ids if t and t.strip()))
    if not ids:
        raise InvalidInput("select at least one task", {"fields": {"task": "required"}})
    if len(ids) > MAX_TASKS:
        raise InvalidInput(f"select at most {MAX_TASKS} tasks at once", {"fields": {"task": "too many"}})
    if action == "reassign":
        problems = {k: "required" for k, v in (("to", to), ("reason", reason)) if not (v or "").strip()}
        if problems:
            raise InvalidInput("say to whom and why", {"fields": problems})
    names = _names(ctx, ids)
    outcomes = []
    for task_id in ids:
        name = names.get(task_id, task_id)
        try:
            if action == "claim":
                view = claims.claim(ctx, actor, task_id)
            elif action == "unclaim":
                view = claims.unclaim(ctx, actor, task_id)
            else:
                view = collaboration.reassign(ctx, actor, task_id, to, reason)
        except PmoflowError as err:
            outcomes.append(Outcome(task_id, name, False, _why(err), err))
            continue
        message = f"{ACTIONS[action]}" + (f" to {view.assignee}" if action == "reassign" else "")
        outcomes.append(Outcome(task_id, view.name, True, message))
    return outcomes


def _names(ctx: EngineContext, ids: list[str]) -> dict[str, str]:
    with ctx.uow(write=False) as uow:
        return dict(uow.session.execute(select(HumanTask.uuid, HumanTask.name).where(HumanTask.uuid.in_(ids))).all())


def _why(err: PmoflowError) -> str:
    """The refusal as one sentence: the message, and the fields' problems of an invalid input."""
    fields = (err.details or {}).get("fields") if isinstance(err.details, dict) else None
    if isinstance(fields, dict) and fields:
        return "; ".join(f"{k}: {v}" for k, v in fields.items())
    return err.message
