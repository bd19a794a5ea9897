"""What a process posts to a chat channel, and when: `pmoflow:announce` in the process's extension elements.

    <bpmn:process id="purchase" isExecutable="true">
      <bpmn:extensionElements>
        <pmoflow:announce channel="pmo-decisions" on="decided sla_breached"/>
      </bpmn:extensionElements>

`channel` is a channel the administrator named (PMOFLOW_CHAT_CHANNELS: a Slack or Teams incoming
webhook); `on` lists events (spaces or commas): `started`, `decided` (any outcome), an outcome
(`approved`, `rejected`, `cancelled`, `failed`, `completed`), `sla_breached`, `escalated`. Checked at
deploy: an unknown event, or a channel the server does not know, is a problem naming the file, the
element and the line. engine/notify/announce.py posts them, from the event stream.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from engine.core.errors import Problem
from engine.core.outcomes import OUTCOMES
from engine.spiff.namespaces import NS

EVENTS = ("started", "decided", *OUTCOMES, "sla_breached", "escalated")
_SPLIT = re.compile(r"[\s,]+")


def _channel(node: etree._Element) -> str:
    return (node.get("channel") or "").strip().lower().lstrip("#")


def _events(node: etree._Element) -> list[str]:
    return [e for e in _SPLIT.split((node.get("on") or "").strip().lower()) if e]


def announcements(process: etree._Element) -> list[dict[str, Any]]:
    """The process's announcements: [{"channel": name, "on": [events]}], in document order."""
    return [
        {"channel": _channel(node), "on": [e for e in EVENTS if e in _events(node)]}
        for node in process.iterfind("bpmn:extensionElements/pmoflow:announce", NS)
    ]


def announce_problems(process: etree._Element, filename: str, channels: set[str] | None) -> list[Problem]:
    """Announcements without a channel or events, with an unknown event, or (given the server's `channels`)
    naming a channel that does not exist."""
    problems = []
    for node in process.iterfind("bpmn:extensionElements/pmoflow:announce", NS):
        where = (filename, process.get("id"), node.sourceline)
        name, events = _channel(node), _events(node)
        if not name:
            problems.append(Problem("pmoflow:announce needs a channel", *where, "bad_announce"))
        elif channels is not None and name not in channels:
            known = ", ".join(sorted(channels)) or "none; an administrator names them in PMOFLOW_CHAT_CHANNELS"
            problems.append(
                Problem(f"chat channel {name!r} does not exist (channels: {known})", *where, "unknown_channel")
            )
        unknown = [e for e in events if e not in EVENTS]
        if not events or unknown:
            what = f"unknown event {unknown[0]!r}" if unknown else "no events"
            problems.append(
                Problem(f"pmoflow:announce has {what}; events: {', '.join(EVENTS)}", *where, "bad_announce")
            )
    return problems
