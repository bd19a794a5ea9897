"""A decision taken in Slack: the same completion step as the web form (engine.tasks.completion.complete),
with `channel: slack` in the task_completed event, as the Slack user's pmoflow actor, so permissions,
candidates, separation of duties and the form's own validation hold as on the task page.

Refusals (deciding from Slack is turned off by the admin's switch `slack_actions`, engine/admin/channels.py;
the task is done already, not theirs, needs more than a decision, the comment is missing) come back as a
`Refusal` to say in Slack; nothing is changed then.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.admin.channels import enabled
from engine.core.context import EngineContext
from engine.core.errors import FormDataInvalid, PmoflowError
from engine.core.permissions import Actor
from engine.core.records import TaskView
from engine.forms.decisions import SimpleDecision, simple_decision
from engine.slack.blocks import Decided
from engine.tasks import completion, inbox

CHANNEL = "slack"
SWITCH = "slack_actions"  # the admin's switch for deciding from Slack (engine/admin/channels.py)


@dataclass(frozen=True)
class Refusal:
    """Why nothing was decided; `fields` maps form keys to their problems (the comment, usually)."""

    message: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decidable:
    """An open task whose form is a simple decision, as the actor sees it."""

    task: TaskView
    form: SimpleDecision


def decidable(ctx: EngineContext, actor: Actor, task_id: str) -> Decidable | Refusal:
    """The task if deciding from Slack is on, the actor may see it, it is open and its form is a simple
    decision, else why not."""
    if not enabled(ctx, SWITCH):
        return Refusal("Deciding from Slack is turned off here: nothing was changed. Open the task in pmoflow.")
    try:
        task = inbox.get(ctx, actor, task_id)
    except PmoflowError as err:
        return Refusal(err.message)
    if task.status != "open":
        by = f" by {task.completed_by}" if task.completed_by else ""
        return Refusal(f"*{task.name}* is already {task.status}{by}: nothing was changed.")
    form = simple_decision(task.form)
    if form is None:
        return Refusal(f"*{task.name}* needs more than a decision: open it in pmoflow.")
    return Decidable(task, form)


def decide(
    ctx: EngineContext, actor: Actor, task_id: str, decision: str, comment: str | None, slack_user: str
) -> Decided | Refusal:
    """Complete the task with `decision` ("approve" or "reject") and the comment, as the web form would."""
    found = decidable(ctx, actor, task_id)
    if isinstance(found, Refusal):
        return found
    data: dict[str, object] = {found.form.key: decision}
    comment = (comment or "").strip() or None
    if comment and found.form.comment_key:
        data[found.form.comment_key] = comment
    try:
        done = completion.complete(ctx, actor, task_id, data, channel=CHANNEL)
    except FormDataInvalid as err:
        problems = "; ".join(f"{k}: {v}" for k, v in err.errors.items())
        return Refusal(f"*{found.task.name}* was not decided: {problems}", dict(err.errors))
    except PmoflowError as err:
        return Refusal(err.message)
    return Decided(
        task_name=done.name,
        process=done.process_name or done.process,
        business_key=done.business_key,
        decided_by=actor.username,
        decision=decision,
        comment=comment if found.form.comment_key else None,
        at=ctx.clock.now(),
        url=ctx.settings.base_url.rstrip("/") + f"/tasks/{done.id}",
        slack_user=slack_user,
    )
