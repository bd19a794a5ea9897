"""The messages: a multipart email (text + HTML), a Slack incoming-webhook body, a Teams Adaptive Card.

All three are rendered from the same plain context (`recipients.context_of`) and the kind's
wording (`preferences.KINDS`). Jinja2 escapes every value in the HTML body; Slack's markup
characters are escaped in chat text, so a request title cannot ping a channel or forge a link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from engine.core.config import Settings
from engine.notify.preferences import KINDS
from engine.slack.blocks import SLACK_FIELD_LIMIT, SLACK_HEADER_LIMIT, SLACK_TEXT_LIMIT, cut, slack_escape

templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"], default_for_string=True),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
SETTINGS_PATH = "/account/notifications"


@dataclass(frozen=True)
class Offer:
    """The Approve and Reject links a message about a decision task carries (engine.notify.actions.links_for)."""

    approve: str
    reject: str
    expires_at: datetime


# The kinds whose messages offer decision links, when the task's form is a plain decision.
DECISION_KINDS = frozenset({"task_assigned", "task_reminder", "task_escalated"})


@dataclass(frozen=True)
class Message:
    """What every channel shows: a subject, a first sentence, labelled facts and one link."""

    subject: str
    lead: str
    facts: list[tuple[str, str]]
    url: str
    action: str
    settings_url: str


def one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _when(iso: str | None) -> str | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso).strftime("%d %b %Y %H:%M %Z").strip()
    except ValueError:
        return iso


def link(settings: Settings, path: str) -> str:
    return settings.base_url.rstrip("/") + path


def message(context: dict[str, Any], settings: Settings) -> Message:
    """The channel-neutral message for a job's context; raises KeyError for an unknown kind."""
    kind = KINDS[context["kind"]]
    values = {k: one_line(v) if isinstance(v, str) else (v or "") for k, v in context.items()}
    values.setdefault("verdict", f"is {values.get('status', '')}")  # jobs enqueued before outcomes were told
    finished = kind.name in ("instance_finished", "watched_finished")
    facts = [
        ("Request", values["request"]),
        ("Process", values["process"]),
        ("Task", None if finished else values["task_name"]),
        ("Due", None if finished else _when(context.get("due_at"))),
        ("Outcome", values["outcome"] if finished else None),
        ("By", values["actor"]),
        ("Reason", values["reason"]),
    ]
    return Message(
        subject=one_line(kind.subject.format(**values), 200),
        lead=one_line(kind.lead.format(**values), 500),
        facts=[(label, str(value)) for label, value in facts if value],
        url=link(settings, context["link"]),
        action="Open the request" if finished else "Open the task",
        settings_url=link(settings, SETTINGS_PATH),
    )


def email(
    context: dict[str, Any],
    settings: Settings,
    to: str,
    display_name: str,
    message_id: str,
    now: datetime,
    offer: Offer | None = None,
) -> EmailMessage:
    """A multipart/alternative email (plain text first, then HTML) for one recipient; with `offer`, Approve and
    Reject buttons that open the confirmation page."""
    msg = message(context, settings)
    values = {
        "subject": msg.subject,
        "lead": msg.lead,
        "facts": msg.facts,
        "url": msg.url,
        "action": msg.action,
        "settings_url": msg.settings_url,
        "offer": offer,
        "expires": offer.expires_at.strftime("%d %b %Y %H:%M UTC") if offer else None,
    }
    return multipart("email", values, settings, to, display_name, message_id, now)


def multipart(
    template: str,
    values: dict[str, Any],
    settings: Settings,
    to: str,
    display_name: str,
    message_id: str,
    now: datetime,
) -> EmailMessage:
    """A multipart/alternative email from `template`.txt and `template`.html (values["subject"] is its subject)."""
    mail = EmailMessage()
    mail["Subject"] = values["subject"]
    mail["From"] = settings.smtp_from
    mail["To"] = formataddr((one_line(display_name, 100), to)) if display_name else to
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = message_id
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(templates.get_template(f"{template}.txt").render(values))
    mail.add_alternative(templates.get_template(f"{template}.html").render(values), subtype="html")
    return mail


def slack(context: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A Slack incoming-webhook body: `text` (the notification fallback) and Block Kit `blocks`."""
    return slack_body(message(context, settings))


def slack_body(msg: Message) -> dict[str, Any]:
    """A message as a Slack body: header, lead, facts, one button."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(msg.subject, SLACK_HEADER_LIMIT)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": cut(slack_escape(msg.lead), SLACK_TEXT_LIMIT)}},
    ]
    if msg.facts:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": cut(f"*{label}*\n{slack_escape(value)}", SLACK_FIELD_LIMIT)}
                    for label, value in msg.facts[:10]
                ],
            }
        )
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": msg.action},
                    "url": msg.url,
                    "style": "primary",
                }
            ],
        }
    )
    return {"text": slack_escape(f"{msg.subject}: {msg.url}"), "blocks": blocks}


def teams(context: dict[str, Any], settings: Settings, offer: Offer | None = None) -> dict[str, Any]:
    """A Teams incoming-webhook body: a `message` with one Adaptive Card attachment; with `offer`, Approve and
    Reject open the signed confirmation page (Action.OpenUrl: no bot needed)."""
    return teams_body(message(context, settings), offer)


def teams_body(msg: Message, offer: Offer | None = None) -> dict[str, Any]:
    """A message as a Teams body: one Adaptive Card (title, lead, a FactSet, Approve / Reject with an `offer`,
    one Action.OpenUrl to the page)."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": msg.subject, "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "TextBlock", "text": msg.lead, "wrap": True},
    ]
    if msg.facts:
        body.append({"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in msg.facts]})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [
            *(
                [
                    {"type": "Action.OpenUrl", "title": "Approve", "url": offer.approve, "style": "positive"},
                    {"type": "Action.OpenUrl", "title": "Reject", "url": offer.reject, "style": "destructive"},
                ]
                if offer
                else []
            ),
            {"type": "Action.OpenUrl", "title": msg.action, "url": msg.url},
        ],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }
