"""A local HTTP server playing Slack's Web API side, and requests signed as Slack signs them.

`FakeSlack` answers chat.postMessage, chat.update, chat.postEphemeral, conversations.open, views.open,
users.lookupByEmail and users.info like Slack does (`{"ok": ...}`), from a directory of people the test
gives, and keeps every call. `signed` computes Slack's signature on its own (HMAC-SHA256 over
`v0:<timestamp>:<body>`, hex, prefixed `v0=`), without pmoflow's or slack_sdk's code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

TOKEN = "xoxb-test-bot-token"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0PMO"


@dataclass
class Person:
    id: str
    email: str | None
    name: str
    team: str = TEAM


@dataclass
class FakeSlack:
    url: str = ""
    people: list[Person] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures: dict[str, tuple[int, dict[str, str], dict[str, Any]]] = field(default_factory=dict)

    def of(self, method: str) -> list[dict[str, Any]]:
        return [body for name, body in self.calls if name == method]

    def answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        by_id = {p.id: p for p in self.people}
        if method == "users.lookupByEmail":
            found = [p for p in self.people if p.email and p.email.lower() == body.get("email", "").lower()]
            if not found:
                return {"ok": False, "error": "users_not_found"}
            return {"ok": True, "user": _user(found[0])}
        if method == "users.info":
            person = by_id.get(body.get("user", ""))
            return {"ok": True, "user": _user(person)} if person else {"ok": False, "error": "user_not_found"}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + body["users"]}}
        if method == "chat.postMessage":
            return {"ok": True, "channel": body["channel"], "ts": f"1767603600.{len(self.calls):06d}"}
        if method in ("chat.update", "chat.postEphemeral", "views.open"):
            return {"ok": True}
        return {"ok": False, "error": "unknown_method"}


def _user(person: Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "team_id": person.team,
        "name": person.name,
        "deleted": False,
        "is_bot": False,
        "is_email_confirmed": True,
        "profile": {"real_name": person.name.title(), "email": person.email},
    }


@contextmanager
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
            raw = self.rfile.read(int(self.headers["Content-Length"])).decode()
            method = self.path.rsplit("/", 1)[-1]
            if self.headers["Content-Type"].startswith("application/json"):
                body = json.loads(raw)
            else:
                body = {k: v[0] for k, v in parse_qs(raw).items()}
            fake.calls.append((method, body))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                status, headers, answer = 200, {}, {"ok": False, "error": "invalid_auth"}
            else:
                status, headers, answer = fake.failures.get(method, (200, {}, fake.answer(method, body)))
            data = json.dumps(answer).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/api"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def signed(body: str, timestamp: int, secret: str = SECRET) -> dict[str, str]:
    """The headers Slack sends with `body`: its timestamp and signature."""
    base = f"v0:{timestamp}:{body}".encode()
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def interaction_body(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


def click(action: str, task_id: str, user: str, channel: str, ts: str, team: str = TEAM) -> dict[str, Any]:
    """A block_actions payload as Slack sends it when a button of a bot's message is clicked."""
    return {
        "type": "block_actions",
        "team": {"id": team, "domain": "pmo"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
        "api_app_id": "A0PMOFLOW",
        "trigger_id": "1337.42.abcdef",
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
        "channel": {"id": channel, "name": "directmessage"},
        "response_url": "https://hooks.slack.com/actions/T0PMO/1/x",
        "actions": [
            {"action_id": action, "block_id": "pmoflow_task", "value": task_id, "type": "button", "action_ts": "1"}
        ],
    }


def submission(view: dict[str, Any], user: str, comment: str | None, team: str = TEAM) -> dict[str, Any]:
    """A view_submission payload for the dialog pmoflow opened (`view` as sent to views.open)."""
    values = {"comment": {"comment": {"type": "plain_text_input", "value": comment}}}
    return {
        "type": "view_submission",
        "team": {"id": team, "domain": "pmo"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
        "view": {**view, "id": "V0DIALOG", "state": {"values": values}},
    }
