"""The Slack app's Block Kit: a task's direct message (with Approve / Reject / Open when its form is a simple
decision), the message after a decision, the message of a task that no longer waits for its reader
(cancelled, handed to someone else), the reject dialog, `/pmoflow`'s list and short replies.

Built with slack_sdk's Block Kit models (they check lengths and shapes as they are built); a task's DM is
the incoming-webhook message of `engine.notify.rendering.slack` with its buttons, so both modes say the
same. Every value from a user (titles, names, comments) is escaped for mrkdwn (`slack_escape`, which the
incoming-webhook messages use too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

SLACK_HEADER_LIMIT = 150
SLACK_TEXT_LIMIT = 2900
SLACK_FIELD_LIMIT = 1900
APPROVE = "pmoflow_approve"
REJECT = "pmoflow_reject"
OPEN = "pmoflow_open"
ACTIONS_BLOCK = "pmoflow_task"
REJECT_VIEW = "pmoflow_reject"  # the dialog's callback_id
COMMENT = "comment"  # the dialog's input block and action ids
COMMENT_LIMIT = 2000
VERBS = {"approve": "approved", "reject": "rejected", "complete": "completed"}


def slack_escape(text: str) -> str:
    """Text for Slack mrkdwn: &, < and > escaped, so no value can ping a channel or forge a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters (ending in an ellipsis)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def buttons(task_id: str, url: str, decision: bool) -> dict[str, Any]:
    """The actions block: Approve, Reject and Open for a simple decision, else Open alone."""
    elements: list[ButtonElement] = []
    if decision:
        elements += [
            ButtonElement(text="Approve", action_id=APPROVE, value=task_id, style="primary"),
            ButtonElement(text="Reject", action_id=REJECT, value=task_id, style="danger"),
        ]
    elements.append(ButtonElement(text="Open", action_id=OPEN, url=url, value=task_id))
    block: dict[str, Any] = ActionsBlock(block_id=ACTIONS_BLOCK, elements=elements).to_dict()
    return block


def task_message(webhook_body: dict[str, Any], task_id: str | None, url: str, decision: bool) -> dict[str, Any]:
    """The direct message: the incoming-webhook body with its link button swapped for the task's buttons."""
    blocks = [b for b in webhook_body["blocks"] if b.get("type") != "actions"]
    if task_id:
        blocks.append(buttons(task_id, url, decision))
    else:
        blocks += [b for b in webhook_body["blocks"] if b.get("type") == "actions"]
    return {"text": webhook_body["text"], "blocks": blocks}


@dataclass(frozen=True)
class Decided:
    """What a decision from Slack came to, for the message that replaces the buttons."""

    task_name: str
    process: str
    business_key: str | None
    decided_by: str  # the person's display name
    decision: str  # approve | reject
    comment: str | None
    at: datetime
    url: str
    slack_user: str | None = None  # who clicked, a Slack id (shown as a mention)


def decided_message(decided: Decided) -> dict[str, Any]:
    """The task's message after the decision: who decided what and when, their comment, and Open."""
    verb = VERBS.get(decided.decision, decided.decision)
    name = slack_escape(decided.task_name)
    who = f"*{slack_escape(decided.decided_by)}*"
    if decided.slack_user and decided.slack_user.isalnum():
        who = f"<@{decided.slack_user}> ({who})"
    lead = f"{who} {verb} *{name}* on {decided.at.strftime('%d %b %Y %H:%M %Z')}."
    blocks: list[dict[str, Any]] = [
        HeaderBlock(text=cut(f"{verb.title()}: {decided.task_name}", SLACK_HEADER_LIMIT)).to_dict(),
        SectionBlock(text=MarkdownTextObject(text=cut(lead, SLACK_TEXT_LIMIT))).to_dict(),
    ]
    if decided.comment:
        quoted = "\n".join(f"> {line}" for line in slack_escape(decided.comment).splitlines())
        blocks.append(SectionBlock(text=MarkdownTextObject(text=cut(quoted, SLACK_TEXT_LIMIT))).to_dict())
    about = " · ".join(slack_escape(p) for p in (decided.process, decided.business_key or "") if p)
    if about:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=cut(about, SLACK_TEXT_LIMIT))]).to_dict())
    blocks.append(_open_only(decided.url))
    return {"text": slack_escape(f"{verb.title()}: {decided.task_name} by {decided.decided_by}"), "blocks": blocks}


def _open_only(url: str) -> dict[str, Any]:
    block: dict[str, Any] = ActionsBlock(
        block_id=ACTIONS_BLOCK, elements=[ButtonElement(text="Open", action_id=OPEN, url=url)]
    ).to_dict()
    return block


@dataclass(frozen=True)
class Withdrawn:
    """Why a task no longer waits for the person a message was sent to: `why` is "cancelled" (its request was
    cancelled, `reason` saying why), "closed" (the process went on without it: a timer, another branch, an
    approval decided by the others' votes) or "moved" (it is now with `now_with`, or with other people)."""

    task_name: str
    process: str
    business_key: str | None
    why: str  # cancelled | closed | moved
    at: datetime | None
    url: str
    reason: str | None = None
    now_with: str | None = None


def withdrawn_message(withdrawn: Withdrawn) -> dict[str, Any]:
    """A task's message once the task no longer waits for its reader: what happened, and Open (no decision
    buttons)."""
    name = slack_escape(withdrawn.task_name)
    when = f" on {withdrawn.at.strftime('%d %b %Y %H:%M %Z')}" if withdrawn.at else ""
    if withdrawn.why == "cancelled":
        header = f"Cancelled: {withdrawn.task_name}"
        lead = f"*{name}* was cancelled{when}: it no longer waits for you."
        if withdrawn.reason:
            lead += f"\nReason: {slack_escape(withdrawn.reason)}"
    elif withdrawn.why == "closed":
        header = f"No longer waiting for you: {withdrawn.task_name}"
        lead = f"*{name}* was closed{when}: the request went on without it."
    else:
        header = f"No longer waiting for you: {withdrawn.task_name}"
        holder = f"*{slack_escape(withdrawn.now_with)}*" if withdrawn.now_with else "other people"
        lead = f"*{name}* was handed over{when}: it is now with {holder}."
    blocks: list[dict[str, Any]] = [
        HeaderBlock(text=cut(header, SLACK_HEADER_LIMIT)).to_dict(),
        SectionBlock(text=MarkdownTextObject(text=cut(lead, SLACK_TEXT_LIMIT))).to_dict(),
    ]
    about = " · ".join(slack_escape(p) for p in (withdrawn.process, withdrawn.business_key or "") if p)
    if about:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=cut(about, SLACK_TEXT_LIMIT))]).to_dict())
    blocks.append(_open_only(withdrawn.url))
    return {"text": slack_escape(header), "blocks": blocks}


def reject_dialog(
    task_id: str, task_name: str, label: str | None, hint: str | None, channel: str | None, ts: str | None
) -> dict[str, Any]:
    """The modal Reject opens: a comment box (when the form has a comment field), Reject and Cancel.
    Whether the comment is required is the form's rule, checked when it is submitted."""
    blocks: list[Any] = [
        SectionBlock(text=MarkdownTextObject(text=cut(f"Reject *{slack_escape(task_name)}*?", SLACK_TEXT_LIMIT)))
    ]
    if label is not None:
        blocks.append(
            InputBlock(
                block_id=COMMENT,
                label=cut(label, 2000),
                hint=cut(hint, 2000) if hint else None,
                optional=True,
                element=PlainTextInputElement(action_id=COMMENT, multiline=True, max_length=COMMENT_LIMIT),
            )
        )
    view = View(
        type="modal",
        callback_id=REJECT_VIEW,
        title="Reject",
        submit="Reject",
        close="Cancel",
        private_metadata=json.dumps({"task": task_id, "channel": channel, "ts": ts}, separators=(",", ":")),
        blocks=blocks,
    )
    dialog: dict[str, Any] = view.to_dict()
    return dialog


def notice_view(text: str) -> dict[str, Any]:
    """A dialog that only says something (why a rejection was not recorded), with Close."""
    view = View(
        type="modal",
        title="pmoflow",
        close="Close",
        blocks=[SectionBlock(text=MarkdownTextObject(text=cut(text, SLACK_TEXT_LIMIT)))],
    )
    notice: dict[str, Any] = view.to_dict()
    return notice


@dataclass(frozen=True)
class ListedTask:
    """One line of `/pmoflow`: a task, the request it belongs to, when it is due and its page."""

    name: str
    request: str
    due: datetime | None
    overdue: bool
    url: str


def task_list(tasks: list[ListedTask], total: int, inbox_url: str) -> dict[str, Any]:
    """`/pmoflow`'s answer, seen only by who asked: their open tasks with Open buttons, and the inbox link."""
    if not tasks:
        return reply("Nothing waits for you in pmoflow.")
    blocks: list[dict[str, Any]] = [
        SectionBlock(text=MarkdownTextObject(text=f"*Your open tasks* ({total})")).to_dict(),
    ]
    for task in tasks:
        due = f"\nDue {task.due.strftime('%d %b %Y %H:%M %Z')}" if task.due else ""
        flag = " *(overdue)*" if task.overdue else ""
        text = f"*{slack_escape(task.name)}*{flag}\n{slack_escape(task.request)}{due}"
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=cut(text, SLACK_TEXT_LIMIT)),
                accessory=ButtonElement(text="Open", action_id=OPEN, url=task.url),
            ).to_dict()
        )
    if total > len(tasks):
        more = f"{total - len(tasks)} more in <{inbox_url}|your inbox>."
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=more)]).to_dict())
    return {"response_type": "ephemeral", "text": f"Your open tasks ({total})", "blocks": blocks}


def reply(text: str) -> dict[str, Any]:
    """A short answer only the person who clicked or typed sees (`text` is mrkdwn, already escaped)."""
    return {"response_type": "ephemeral", "text": text}
