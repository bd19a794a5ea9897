"""Slack's interaction requests, once verified: button clicks (`block_actions`) and the reject dialog
(`view_submission`).

- Approve completes the task (engine/integration/slack/decisions.py) and replaces the message in place
  (chat.update) with who decided what; Reject opens the dialog (views.open), whose submission rejects
  with the comment, or shows the form's complaint (a required comment) on the comment box.
- Open is a link: Slack reports the click, nothing is done.
- A Slack user pmoflow cannot match gets, only for them (chat.postEphemeral), a one-time link to connect
  their account; a click that cannot decide (done already, not theirs, more than a decision) gets why.
  Neither changes the task.

Slack waits 3 seconds for the answer: the calls back to Slack are bounded by `chat_timeout`, and a failed
update of the message is logged, never undoes the decision.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from engine.core.context import EngineContext
from engine.core.errors import InvalidInput
from engine.core.permissions import Actor
from engine.integration.slack.decisions import Decidable, Refusal, decidable, decide
from engine.integration.slack.verification import identifier
from engine.slack import accounts, api, blocks

log = logging.getLogger("pmoflow.slack")
TASK_ID_LIMIT = 64


@dataclass(frozen=True)
class Answer:
    """What to answer Slack's request with: a JSON body, or None for an empty 200."""

    body: dict[str, Any] | None = None


def _object(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{name} must be an object", {"fields": {name: "must be an object"}})
    return value


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: object, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InvalidInput(f"{name} is missing or too long", {"fields": {name: f"1 to {limit} characters"}})
    return value


def interaction(ctx: EngineContext, form: dict[str, str]) -> Answer:
    """Handle one verified interaction request (its form field `payload`); raises InvalidInput."""
    try:
        payload = _object(json.loads(form.get("payload") or ""), "payload")
    except ValueError:
        raise InvalidInput("payload is not JSON", {"fields": {"payload": "not JSON"}}) from None
    user = _object(payload.get("user"), "user")
    slack_user = identifier(user.get("id"), "user.id")
    team_of = _dict(payload.get("team"))
    team = identifier(team_of.get("id") or user.get("team_id"), "team.id")
    name = str(user.get("name") or user.get("username") or slack_user)[:200]
    if payload.get("type") == "block_actions":
        return _clicked(ctx, payload, team, slack_user, name)
    if payload.get("type") == "view_submission":
        view = _object(payload.get("view"), "view")
        if view.get("callback_id") == blocks.REJECT_VIEW:
            return _rejected(ctx, view, team, slack_user, name)
    raise InvalidInput("pmoflow handles button clicks and its reject dialog only", {"fields": {"type": "unsupported"}})


def _clicked(ctx: EngineContext, payload: dict[str, Any], team: str, slack_user: str, name: str) -> Answer:
    actions = _list(payload.get("actions"))
    ours = [a for a in actions if isinstance(a, dict) and a.get("action_id") in (blocks.APPROVE, blocks.REJECT)]
    if not ours:
        return Answer()  # Open (a link) or another app's element: nothing to do
    action = ours[0]
    task_id = _text(action.get("value"), "actions.value", TASK_ID_LIMIT)
    container = _dict(payload.get("container"))
    named = _dict(payload.get("channel"))
    channel = identifier(container.get("channel_id") or named.get("id"), "channel")
    ts = container.get("message_ts") if isinstance(container.get("message_ts"), str) else None
    actor = _actor(ctx, team, slack_user, name, channel)
    if actor is None:
        return Answer()
    if action["action_id"] == blocks.REJECT:
        found = decidable(ctx, actor, task_id)
        if isinstance(found, Refusal):
            _tell(ctx, channel, slack_user, found.message)
            return Answer()
        _open_dialog(ctx, payload, found, channel, ts, slack_user)
        return Answer()
    outcome = decide(ctx, actor, task_id, "approve", None, slack_user)
    if isinstance(outcome, Refusal):
        _tell(ctx, channel, slack_user, outcome.message)
    elif ts:
        _update(ctx, channel, ts, blocks.decided_message(outcome))
    return Answer()


def _rejected(ctx: EngineContext, view: dict[str, Any], team: str, slack_user: str, name: str) -> Answer:
    try:
        meta = _object(json.loads(str(view.get("private_metadata") or "")), "private_metadata")
    except ValueError:
        raise InvalidInput("private_metadata is not JSON", {"fields": {"private_metadata": "not JSON"}}) from None
    task_id = _text(meta.get("task"), "task", TASK_ID_LIMIT)
    channel = meta.get("channel") if isinstance(meta.get("channel"), str) else None
    ts = meta.get("ts") if isinstance(meta.get("ts"), str) else None
    state = _object(view.get("state") or {}, "view.state")
    box = _dict(_dict(_dict(state.get("values")).get(blocks.COMMENT)).get(blocks.COMMENT))
    comment = box.get("value") if isinstance(box.get("value"), str) else None
    actor = _actor(ctx, team, slack_user, name, None)
    if actor is None:
        link = accounts.link_url(ctx, team, slack_user, name)
        return Answer({"response_action": "update", "view": blocks.notice_view(_unknown(link))})
    outcome = decide(ctx, actor, task_id, "reject", comment, slack_user)
    if isinstance(outcome, Refusal):
        if outcome.fields and blocks.COMMENT in _dialog_inputs(view):
            message = "; ".join(outcome.fields.values())
            return Answer({"response_action": "errors", "errors": {blocks.COMMENT: message[:150]}})
        return Answer({"response_action": "update", "view": blocks.notice_view(outcome.message)})
    if channel and ts:
        _update(ctx, channel, ts, blocks.decided_message(outcome))
    return Answer({"response_action": "clear"})


def _dialog_inputs(view: dict[str, Any]) -> set[str]:
    found = _list(view.get("blocks"))
    return {str(b.get("block_id")) for b in found if isinstance(b, dict) and b.get("type") == "input"}


def _unknown(link: str) -> str:
    return (
        "pmoflow does not know your Slack account yet. "
        f"<{link}|Connect it to your pmoflow account> (sign in there and confirm), then try again."
    )


def _actor(ctx: EngineContext, team: str, slack_user: str, name: str, channel: str | None) -> Actor | None:
    """The Slack user's pmoflow actor; when there is none, tells them (with a link) and returns None."""
    try:
        actor = accounts.actor_for_slack(ctx, team, slack_user)
    except (api.SlackError, api.SlackUnavailable) as err:
        log.warning("could not ask Slack who %s is: %s", slack_user, err)
        if channel:
            _tell(ctx, channel, slack_user, "pmoflow could not check who you are with Slack: try again in a minute.")
        return None
    if actor is None and channel:
        _tell(ctx, channel, slack_user, _unknown(accounts.link_url(ctx, team, slack_user, name)))
    return actor


def _open_dialog(
    ctx: EngineContext, payload: dict[str, Any], found: Decidable, channel: str, ts: str | None, slack_user: str
) -> None:
    trigger = payload.get("trigger_id")
    if not isinstance(trigger, str) or not trigger:
        _tell(ctx, channel, slack_user, "Slack sent no dialog trigger: open the task in pmoflow to reject it.")
        return
    form = found.form
    label = (form.comment_label or "Comment") if form.comment_key else None
    dialog = blocks.reject_dialog(found.task.id, found.task.name, label, form.comment_hint, channel, ts)
    try:
        api.call(ctx.settings, "views.open", {"trigger_id": trigger, "view": dialog})
    except (api.SlackError, api.SlackUnavailable) as err:
        log.warning("could not open the reject dialog: %s", err)


def _tell(ctx: EngineContext, channel: str, slack_user: str, text: str) -> None:
    """A message only this Slack user sees, in the conversation they clicked in."""
    try:
        api.call(ctx.settings, "chat.postEphemeral", {"channel": channel, "user": slack_user, "text": text})
    except (api.SlackError, api.SlackUnavailable) as err:
        log.warning("could not answer %s in Slack: %s", slack_user, err)


def _update(ctx: EngineContext, channel: str, ts: str, message: dict[str, Any]) -> None:
    """Replace the task's message in place (its buttons go) with the decision."""
    try:
        api.call(ctx.settings, "chat.update", {"channel": channel, "ts": ts, **message})
    except (api.SlackError, api.SlackUnavailable) as err:
        log.warning("the decision stands, but its Slack message was not updated: %s", err)
