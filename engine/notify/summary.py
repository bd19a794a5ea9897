"""The daily digest's messages (engine/notify/digest.py builds the context): a multipart email, a Slack
body and a Teams Adaptive Card, with the same three sections: overdue, waiting for me, delegated by me.

Like every message (engine/notify/rendering.py), Jinja2 escapes the HTML and Slack's markup characters
are escaped in chat text. Times are shown in the person's digest time zone.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from typing import Any

from engine.core.config import Settings
from engine.notify import rendering
from engine.slack.blocks import SLACK_HEADER_LIMIT, SLACK_TEXT_LIMIT, cut, slack_escape

SECTIONS = (
    ("overdue", "Overdue"),
    ("waiting", "Waiting for you"),
    ("delegated", "You delegated"),
)


def _when(iso: str | None) -> str | None:
    return datetime.fromisoformat(iso).strftime("%d %b %Y %H:%M") if iso else None


def subject(context: dict[str, Any]) -> str:
    """ "Your pmoflow digest: 2 overdue, 3 waiting, 1 delegated"."""
    counts = context["counts"]
    parts = [
        f"{counts[name]} {word}"
        for name, word in (("overdue", "overdue"), ("waiting", "waiting"), ("delegated", "delegated"))
        if counts[name]
    ]
    return "Your pmoflow digest: " + ", ".join(parts)


def sections(context: dict[str, Any], settings: Settings) -> list[dict[str, Any]]:
    """The non-empty sections, each with its items (absolute links, shown times) and how many more there are."""
    shown = []
    for name, title in SECTIONS:
        items = context[name]
        if not items:
            continue
        rows = []
        for item in items:
            facts = []
            if item.get("due_at"):
                facts.append(f"due {_when(item['due_at'])}")
            if item.get("assignee"):
                facts.append(f"with {item['assignee']}")
            rows.append(
                {
                    "task": rendering.one_line(item["task_name"], 200),
                    "request": rendering.one_line(item["request"], 200),
                    "facts": ", ".join(facts),
                    "url": rendering.link(settings, item["link"]),
                }
            )
        shown.append(
            {
                "title": title,
                "items": rows,
                "more": context["counts"][name] - len(items),
                "count": context["counts"][name],
            }
        )
    return shown


def _values(context: dict[str, Any], settings: Settings) -> dict[str, Any]:
    return {
        "subject": subject(context),
        "lead": f"Hello {rendering.one_line(context['display_name'], 100)}, here is what needs you on {context['day']} "
        f"(times in {context['zone']}).",
        "sections": sections(context, settings),
        "url": rendering.link(settings, context["link"]),
        "settings_url": rendering.link(settings, rendering.SETTINGS_PATH),
    }


def email(
    context: dict[str, Any], settings: Settings, to: str, display_name: str, message_id: str, now: datetime
) -> EmailMessage:
    """The digest as a multipart/alternative email (plain text first, then HTML)."""
    return rendering.multipart("digest", _values(context, settings), settings, to, display_name, message_id, now)


def slack(context: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The digest as a Slack body: a header, the lead, one section per list (at most 10 lines each)."""
    values = _values(context, settings)
    esc = slack_escape
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": cut(values["subject"], SLACK_HEADER_LIMIT)},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": esc(values["lead"])}},
    ]
    for section in values["sections"]:
        lines = [
            f"• <{item['url']}|{esc(item['task']).replace('|', '¦')}>: {esc(item['request'])}"
            + (f" ({esc(item['facts'])})" if item["facts"] else "")
            for item in section["items"][:10]
        ]
        more = section["count"] - min(len(section["items"]), 10)
        if more:
            lines.append(f"…and {more} more")
        text = f"*{section['title']}* ({section['count']})\n" + "\n".join(lines)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SLACK_TEXT_LIMIT)}})
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open my tasks"},
                    "url": values["url"],
                    "style": "primary",
                }
            ],
        }
    )
    return {"text": esc(f"{values['subject']}: {values['url']}"), "blocks": blocks}


def teams(context: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The digest as a Teams message with one Adaptive Card: a FactSet per list."""
    values = _values(context, settings)
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": values["subject"], "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "TextBlock", "text": values["lead"], "wrap": True},
    ]
    for section in values["sections"]:
        body.append(
            {
                "type": "TextBlock",
                "text": f"{section['title']} ({section['count']})",
                "weight": "Bolder",
                "wrap": True,
                "spacing": "Medium",
            }
        )
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {"title": item["task"], "value": item["request"] + (f" ({item['facts']})" if item["facts"] else "")}
                    for item in section["items"][:10]
                ],
            }
        )
        more = section["count"] - min(len(section["items"]), 10)
        if more:
            body.append({"type": "TextBlock", "text": f"…and {more} more", "isSubtle": True, "wrap": True})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open my tasks", "url": values["url"]}],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }
