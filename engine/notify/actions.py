"""Deciding from a message: signed Approve / Reject links in emails and Teams cards.

A link is a credential for one decision: it names the task, the recipient, the action and the
channel, expires (`Settings.decision_link_days`, default 7), and is signed with the secret key
(itsdangerous, salted for this use only). Opening it decides nothing: the confirmation page
(`confirmation`) shows the request and a comment box, and only its POST (`decide`) completes the
task, through the same step as the web form (`engine.tasks.completion.complete`) as the recipient,
so candidates, assignment, delegation and separation of duties hold exactly as on the task page,
and the `task_completed` event records `channel`.

Which tasks get links: open tasks whose form is a plain decision
(`engine.forms.decisions.simple_decision`: one approve / reject choice, at most one comment that
is not always required, display text). Any other form gets the task page's link only.

A link is refused, changing nothing, when it is forged or malformed, when decision links are
turned off (`engine.admin.channels.enabled(ctx, "email_actions")`: an admin's choice on the Channels
page, else `Settings.email_actions`; read afresh for every link and message), when it expired, when
it or its sibling (the Approve and Reject links of one message share a nonce) was used, when the
task is no longer open (a link never outlives its task), when the recipient may no longer decide
(reassigned or delegated since, no longer a candidate, deactivated, separation of duties), and when
someone else is signed in in the browser that opens it. Each refusal is a domain error carrying `reason`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from engine.admin.channels import enabled
from engine.admin.identity import actor_of
from engine.core.context import EngineContext
from engine.core.errors import Conflict, Forbidden, FormDataInvalid, NotFound, PmoflowError
from engine.core.permissions import Actor
from engine.db.models import DecisionLinkUse, HumanTask, User
from engine.forms.decisions import SimpleDecision, simple_decision
from engine.notify.bell import describe
from engine.notify.rendering import Offer
from engine.tasks import completion

ACTIONS = ("approve", "reject")
CHANNELS = ("email", "teams", "slack")
PATH = "/decide/"  # the confirmation page: PATH + token (webui/decide)
SALT = "pmoflow.decision-link"
TOKEN_LIMIT = 1000  # characters; a longer token is not one of ours
SUMMARY_LIMIT = 12  # variables shown on the confirmation page
SWITCH = "email_actions"  # the admin's switch for decision links (engine/admin/channels.py)


class LinkRefused(PmoflowError):
    """A decision link that cannot be used; `reason` says why (see the module's docstring)."""

    def __init__(self, reason: str, message: str, task_id: str | None = None) -> None:
        super().__init__(message, {"link": reason})
        self.reason = reason
        self.task_id = task_id  # known when the link was genuine: the page then links to the task


class LinkInvalid(LinkRefused, NotFound):
    """Forged, malformed, or decision links are turned off (404)."""


class LinkSpent(LinkRefused, Conflict):
    """Expired, used, or the task is no longer open (409)."""


class LinkNotYours(LinkRefused, Forbidden):
    """The recipient may no longer decide, or another user is signed in (403)."""


@dataclass(frozen=True)
class Link:
    """What a genuine link says."""

    task_id: str
    recipient: str
    action: str
    channel: str
    nonce: str
    expires_at: datetime


@dataclass(frozen=True)
class Confirmation:
    """What the confirmation page shows."""

    link: Link
    task_name: str
    request: str
    process: str
    requested_by: str | None
    due_at: datetime | None
    facts: list[tuple[str, str]]
    recipient_name: str
    decision_key: str
    comment_key: str | None
    comment_label: str | None
    comment_hint: str | None
    comment_required: bool


@dataclass(frozen=True)
class Decided:
    """A decision taken through a link."""

    task_id: str
    task_name: str
    request: str
    action: str
    instance_status: str


def _serializer(ctx: EngineContext) -> URLSafeSerializer:
    if not ctx.settings.secret_key:
        raise LinkInvalid("disabled", "decision links need a secret key (PMOFLOW_SECRET_KEY)")
    return URLSafeSerializer(ctx.settings.secret_key, salt=SALT)


def qualifies(form: dict[str, Any] | None) -> SimpleDecision | None:
    """The form's decision fields when a link may decide it (a plain decision form), else None."""
    return simple_decision(form)


def issue_link(
    ctx: EngineContext,
    task_id: str,
    recipient: str,
    action: str,
    *,
    channel: str = "email",
    nonce: str | None = None,
    expires_at: datetime | None = None,
) -> str:
    """The absolute URL of a signed link deciding `action` on the task as `recipient`; raises ValueError for an
    unknown action or channel, LinkInvalid without a secret key."""
    if action not in ACTIONS or channel not in CHANNELS:
        raise ValueError(f"unknown action {action!r} or channel {channel!r}")
    expires = expires_at or ctx.clock.now() + timedelta(days=ctx.settings.decision_link_days)
    token = _serializer(ctx).dumps(
        {
            "t": task_id,
            "u": recipient,
            "a": action,
            "c": channel,
            "n": nonce or secrets.token_urlsafe(12),
            "e": int(expires.timestamp()),
        }
    )
    return ctx.settings.base_url.rstrip("/") + PATH + str(token)


def links_for(ctx: EngineContext, task_id: str | None, recipient: str, channel: str) -> Offer | None:
    """Approve and Reject links for a message to `recipient` about the task, or None: decision links are off, the
    task is not open or its form is more than a decision. Never raises for those."""
    if not ctx.settings.secret_key or not task_id:
        return None
    with ctx.uow(write=False) as uow:
        if not enabled(ctx, SWITCH, uow.session):
            return None
        row = uow.session.scalars(select(HumanTask).where(HumanTask.uuid == task_id)).first()
        if row is None or row.status != "open":
            return None
        if qualifies(row.instance.definition.forms.get(row.form_key or "")) is None:
            return None
    nonce = secrets.token_urlsafe(12)
    expires = ctx.clock.now() + timedelta(days=ctx.settings.decision_link_days)
    approve, reject = (
        issue_link(ctx, task_id, recipient, action, channel=channel, nonce=nonce, expires_at=expires)
        for action in ACTIONS
    )
    return Offer(approve, reject, expires)


def verify(ctx: EngineContext, token: str) -> Link:
    """What a link says, if genuine, switched on and not expired; raises LinkInvalid, LinkSpent."""
    if not isinstance(token, str) or not token or len(token) > TOKEN_LIMIT:
        raise LinkInvalid("forged", "This link is not a pmoflow decision link.")
    try:
        data = _serializer(ctx).loads(token)
    except BadSignature:
        raise LinkInvalid("forged", "This link is not a genuine pmoflow decision link.") from None
    link = _link_of(data)
    if not enabled(ctx, SWITCH):
        raise LinkInvalid("disabled", "Deciding from a message is turned off here; open the task.", link.task_id)
    if ctx.clock.now() >= link.expires_at:
        raise LinkSpent("expired", "This link has expired.", link.task_id)
    return link


def _link_of(data: Any) -> Link:
    keys = {"t": str, "u": str, "a": str, "c": str, "n": str, "e": int}
    if not isinstance(data, dict) or any(not isinstance(data.get(k), kind) for k, kind in keys.items()):
        raise LinkInvalid("forged", "This link is not a pmoflow decision link.")
    if data["a"] not in ACTIONS or data["c"] not in CHANNELS:
        raise LinkInvalid("forged", "This link is not a pmoflow decision link.")
    try:
        expires = datetime.fromtimestamp(data["e"], UTC)
    except (OverflowError, OSError, ValueError):
        raise LinkInvalid("forged", "This link is not a pmoflow decision link.") from None
    return Link(data["t"], data["u"], data["a"], data["c"], data["n"], expires)


def confirmation(ctx: EngineContext, token: str, signed_in: str | None = None) -> Confirmation:
    """What the confirmation page shows for a usable link; raises LinkInvalid, LinkSpent, LinkNotYours."""
    link = verify(ctx, token)
    actor, name = _recipient(ctx, link, signed_in)
    _not_used(ctx, link)
    try:
        seen = completion.task_context(ctx, actor, link.task_id)
    except NotFound:
        raise LinkInvalid("forged", "The task of this link does not exist.") from None
    except Forbidden as err:
        raise _not_yours(link, err.message) from None
    if seen.task.status != "open":
        raise LinkSpent("closed", f"This task is already {seen.task.status}.", link.task_id)
    if not seen.may_complete:
        raise _not_yours(link, seen.blocked or "The task is no longer yours to decide.")
    fields = qualifies(seen.task.form)
    if fields is None:
        raise LinkInvalid("not_decision", "This task asks for more than a decision; open the task.", link.task_id)
    variables = seen.variables
    facts = [
        (str(key).replace("_", " ").capitalize(), str(value))
        for key, value in variables.items()
        if isinstance(value, (str, int, float, bool)) and not str(key).startswith("_") and str(value) != ""
    ][:SUMMARY_LIMIT]
    return Confirmation(
        link=link,
        task_name=seen.task.name,
        request=_described(ctx, link.task_id),
        process=seen.task.process_name,
        requested_by=seen.started_by,
        due_at=seen.task.due_at,
        facts=facts,
        recipient_name=name,
        decision_key=fields.key,
        comment_key=fields.comment_key,
        comment_label=fields.comment_label,
        comment_hint=fields.comment_hint,
        comment_required=link.action == "reject" and fields.comment_key is not None,
    )


def decide(ctx: EngineContext, token: str, comment: str | None, signed_in: str | None = None) -> Decided:
    """Complete the link's task with its decision (and the comment) as its recipient; the link is spent. Raises
    LinkInvalid, LinkSpent, LinkNotYours, FormDataInvalid (a reject without its comment, a form rule)."""
    page = confirmation(ctx, token, signed_in)
    link = page.link
    text = (comment or "").strip()
    if page.comment_required and not text:
        raise FormDataInvalid({page.comment_key or "comment": "Say why you reject: the requester reads it."})
    data: dict[str, Any] = {page.decision_key: link.action}
    if page.comment_key and text:
        data[page.comment_key] = text
    actor, _ = _recipient(ctx, link, signed_in)
    _spend(ctx, link)
    try:
        view = completion.complete(ctx, actor, link.task_id, data, channel=link.channel)
    except Conflict as err:
        _unspend(ctx, link)
        raise LinkSpent("closed", err.message, link.task_id) from None
    except Forbidden as err:
        _unspend(ctx, link)
        raise _not_yours(link, err.message) from None
    except PmoflowError:
        _unspend(ctx, link)
        raise
    return Decided(link.task_id, page.task_name, page.request, link.action, view.instance_status or "")


def _described(ctx: EngineContext, task_id: str) -> str:
    """The request as every message names it (engine.notify.bell.describe)."""
    with ctx.uow(write=False) as uow:
        row = uow.session.scalars(select(HumanTask).where(HumanTask.uuid == task_id)).one()
        return describe(row.instance)


def _recipient(ctx: EngineContext, link: Link, signed_in: str | None) -> tuple[Actor, str]:
    """The link's recipient as an actor, and their name; raises LinkNotYours."""
    if signed_in is not None and signed_in != link.recipient:
        raise LinkNotYours(
            "other_user",
            f"This link was sent to someone else; you are signed in as {signed_in}. Open the task instead.",
            link.task_id,
        )
    with ctx.uow(write=False) as uow:
        user = uow.session.scalars(select(User).where(User.username == link.recipient)).first()
        if user is None or not user.active:
            raise LinkNotYours("inactive", "The account this link was sent to is no longer active.", link.task_id)
        return actor_of(user), user.display_name or user.username


def _not_yours(link: Link, why: str) -> LinkNotYours:
    return LinkNotYours("reassigned", f"You can no longer decide this task from this link: {why}", link.task_id)


def _not_used(ctx: EngineContext, link: Link) -> None:
    with ctx.uow(write=False) as uow:
        used = uow.session.scalars(select(DecisionLinkUse).where(DecisionLinkUse.nonce == link.nonce)).first()
        if used is not None:
            raise LinkSpent("used", f"This link was used on {used.used_at:%d %b %Y %H:%M} UTC.", link.task_id)


def _spend(ctx: EngineContext, link: Link) -> None:
    """Record the nonce as used, before deciding: of two clicks at once, one decides; raises LinkSpent."""
    try:
        with ctx.uow() as uow:
            uow.session.add(
                DecisionLinkUse(
                    nonce=link.nonce,
                    task_uuid=link.task_id,
                    username=link.recipient,
                    action=link.action,
                    channel=link.channel,
                    used_at=ctx.clock.now(),
                )
            )
            uow.commit()
    except IntegrityError:
        raise LinkSpent("used", "This link was just used.", link.task_id) from None


def _unspend(ctx: EngineContext, link: Link) -> None:
    """The decision failed (nothing changed): the link is as unused as before."""
    with ctx.uow() as uow:
        uow.session.execute(delete(DecisionLinkUse).where(DecisionLinkUse.nonce == link.nonce))
        uow.commit()
