"""The one outbound boundary (engine/outbound): one address policy and one guarded HTTP client,
the same for webhooks, HTTP connectors and Slack/Teams posts."""

from __future__ import annotations

import ipaddress
import shutil
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from engine.core.context import EngineContext
from engine.events import stream as audit
from engine.integration import connectors, webhooks
from engine.notify import delivery
from engine.outbound import client, policy
from engine.runtime import jobs
from tests.engine.integration.test_webhooks import Receiver
from tests.factories import ADMIN

HOST = "receiver.example.com"  # a public-looking name; the fake DNS says where it points


@pytest.fixture
def database_url(tmp_path, sqlite_template) -> str:
    """The policy does not depend on the database: SQLite only."""
    target = tmp_path / "pmoflow.sqlite3"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def receiver():
    r = Receiver()
    r.secret = webhooks.new_secret()  # connectors and chat posts are not signed: received, not verified
    yield r
    r.close()


class FakeDns:
    """Answers HOST with the next of `answers` on each lookup (the last one again when they run out)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers, self.asked = list(answers), 0

    def __call__(self, host: str, port: int) -> list[tuple]:
        if host != HOST:
            raise OSError("no such host")
        self.asked += 1
        found = self.answers[min(self.asked, len(self.answers)) - 1]
        return [(10 if ":" in a else 2, 1, 6, "", (a, port)) for a in found]


def via_webhook(
    ctx: EngineContext, receiver: Receiver, url: str, allow: bool, dns: FakeDns, monkeypatch: pytest.MonkeyPatch
) -> str:
    ctx.clock.set(datetime.now(UTC).replace(microsecond=0))  # the receiver checks the signature's time
    saving = EngineContext(settings=replace(ctx.settings, webhooks_allow_private=True), db=ctx.db, clock=ctx.clock)
    monkeypatch.setattr(policy, "RESOLVE", FakeDns(["127.0.0.1"]))  # saved while the name pointed here
    issued = webhooks.create_subscription(saving, ADMIN, url, ["*"])
    receiver.secret = issued.secret
    monkeypatch.setattr(policy, "RESOLVE", dns)
    with ctx.uow() as uow:
        audit.record(uow.session, "instance_started", ctx.clock.now(), actor="tester", data={})
        uow.commit()
    sending = EngineContext(settings=replace(ctx.settings, webhooks_allow_private=allow), db=ctx.db, clock=ctx.clock)
    assert jobs.run_due(sending) == 1
    [row] = webhooks.list_deliveries(ctx, ADMIN, issued.subscription.id)
    return "sent" if row.status == "delivered" else f"{row.status}: {row.last_error}"


def via_connector(
    ctx: EngineContext, receiver: Receiver, url: str, allow: bool, dns: FakeDns, monkeypatch: pytest.MonkeyPatch
) -> str:
    connectors.add_host(ctx, ADMIN, HOST, allow_private=allow)
    monkeypatch.setattr(policy, "RESOLVE", dns)
    request = {"method": "POST", "url": url, "headers": {}, "secrets": {}, "body": {"n": 1}, "timeout": 5}
    try:
        connectors.send(ctx, request, "idempotency-key")
    except jobs.PermanentFailure as err:
        return f"failed: {err}"
    return "sent"


def via_chat(
    ctx: EngineContext, receiver: Receiver, url: str, allow: bool, dns: FakeDns, monkeypatch: pytest.MonkeyPatch
) -> str:
    settings = replace(
        ctx.settings,
        slack_webhook_hosts=HOST,
        chat_webhook_allow_http=True,
        chat_webhook_allow_private=allow,
        chat_timeout=5.0,
    )
    monkeypatch.setattr(policy, "RESOLVE", dns)
    try:
        delivery.post(settings, "slack", url, {"text": "hello"}, "job-uuid")
    except jobs.PermanentFailure as err:
        return f"failed: {err}"
    return "sent"


SENDERS = {"webhook": via_webhook, "connector": via_connector, "slack/teams": via_chat}


@pytest.mark.parametrize("sender", sorted(SENDERS))
@pytest.mark.parametrize(
    ("lookups", "allow", "expected"),
    [
        pytest.param([["127.0.0.1"]], True, "sent", id="allowed-receiver"),
        pytest.param([["127.0.0.1"]], False, policy.PRIVATE, id="loopback"),
        pytest.param([["10.0.0.7"]], False, policy.PRIVATE, id="private"),
        pytest.param([["::ffff:10.0.0.7"]], False, policy.PRIVATE, id="ipv4-mapped-private"),
        pytest.param([["169.254.169.254"]], True, policy.NEVER, id="metadata-even-when-allowed"),
        pytest.param([["::ffff:169.254.169.254"]], True, policy.NEVER, id="ipv4-mapped-metadata"),
        pytest.param([["fe80::1"]], True, policy.NEVER, id="link-local-v6"),
        pytest.param([["0.0.0.0"]], True, policy.NEVER, id="unspecified"),
        pytest.param([["127.0.0.1", "169.254.169.254"]], True, policy.NEVER, id="one-bad-answer-of-two"),
        # DNS rebinding: the name points elsewhere after the first lookup. Resolved once, connected to
        # the checked address: the second answer is never asked for.
        pytest.param([["127.0.0.1"], ["169.254.169.254"]], True, "sent", id="rebinding"),
    ],
)
def test_every_sender_applies_the_same_address_policy(ctx, receiver, monkeypatch, sender, lookups, allow, expected):
    port = receiver.server.server_address[1]
    dns = FakeDns(*lookups)
    outcome = SENDERS[sender](ctx, receiver, f"http://{HOST}:{port}/hook", allow, dns, monkeypatch)
    if expected == "sent":
        assert outcome == "sent" and len(receiver.received) == 1
        assert dns.asked == 1  # one lookup per attempt: the address checked is the one used
    else:
        assert outcome.startswith("failed: ") and expected in outcome and HOST in outcome, outcome
        assert receiver.received == []


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("64:ff9b::808:808", None),
        ("127.0.0.1", policy.PRIVATE),
        ("10.0.0.8", policy.PRIVATE),
        ("192.168.1.1", policy.PRIVATE),
        ("100.64.0.1", policy.PRIVATE),
        ("::1", policy.PRIVATE),
        ("fd00::1", policy.PRIVATE),
        ("::ffff:127.0.0.1", policy.PRIVATE),
        ("64:ff9b::7f00:1", policy.PRIVATE),
        ("2002:7f00:1::", policy.PRIVATE),
        ("::127.0.0.2", policy.PRIVATE),
        ("169.254.169.254", policy.NEVER),
        ("169.254.170.2", policy.NEVER),
        ("fd00:ec2::254", policy.NEVER),
        ("100.100.100.200", policy.NEVER),
        ("169.254.1.1", policy.NEVER),
        ("fe80::1", policy.NEVER),
        ("224.0.0.1", policy.NEVER),
        ("ff02::1", policy.NEVER),
        ("0.0.0.0", policy.NEVER),
        ("::", policy.NEVER),
        ("255.255.255.255", policy.NEVER),
        ("::ffff:169.254.169.254", policy.NEVER),
        ("64:ff9b::a9fe:a9fe", policy.NEVER),
        ("2002:a9fe:a9fe::", policy.NEVER),
    ],
)
def test_the_address_policy(address, reason):
    ip = ipaddress.ip_address(address)
    assert policy.refusal(ip, allow_private=False) == reason
    assert policy.refusal(ip, allow_private=True) == (policy.NEVER if reason == policy.NEVER else None)


@pytest.mark.parametrize(
    ("address", "internal"),
    [
        ("127.0.0.1", True),
        ("10.0.0.8", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("fd00:ec2::254", True),
        ("100.64.0.1", True),
        ("8.8.8.8", False),
        ("2606:4700:4700::1111", False),
    ],
)
def test_internal_addresses(address, internal):
    assert policy.is_internal(address) is internal


def test_the_client_connects_to_the_pinned_address_and_checks_the_peer(receiver, monkeypatch):
    port = receiver.server.server_address[1]
    dns = FakeDns(["169.254.169.254"])  # what the name says now: never used below
    monkeypatch.setattr(policy, "RESOLVE", dns)
    backend = client.GuardedBackend(allow_private=True)
    backend.pin(HOST, port, [ipaddress.ip_address("127.0.0.1")])
    backend.connect_tcp(HOST, port).close()
    assert dns.asked == 0
    strict = client.GuardedBackend(allow_private=False)
    strict.pin(HOST, port, [ipaddress.ip_address("127.0.0.1")])
    with pytest.raises(policy.AddressRefused):
        strict.connect_tcp(HOST, port)


def test_the_client_caps_the_answer_and_follows_no_redirect(receiver, monkeypatch):
    monkeypatch.setattr(policy, "RESOLVE", FakeDns(["127.0.0.1"]))
    port = receiver.server.server_address[1]
    receiver.answers = [(200, {}), (302, {"Location": "http://169.254.169.254/latest/meta-data"})]
    capped = client.send("POST", f"http://{HOST}:{port}/hook", allow_private=True, timeout=5, body=b"{}", max_bytes=5)
    assert capped.status == 200 and capped.body == b'{"ok"' and capped.truncated
    moved = client.send("POST", f"http://{HOST}:{port}/hook", allow_private=True, timeout=5, body=b"{}")
    assert moved.status == 302 and moved.headers["location"].startswith("http://169.254.169.254")
    assert len(receiver.received) == 2


def test_transport_errors_name_no_path_or_query(monkeypatch):
    monkeypatch.setattr(policy, "RESOLVE", FakeDns(["127.0.0.1"]))
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # nothing listens there
    with pytest.raises(client.TransportError) as err:
        client.send("POST", f"http://{HOST}:{port}/services/T0/B0/SECRET?token=SECRET", allow_private=True, timeout=5)
    assert "SECRET" not in str(err.value) and err.value.kind == "ConnectError"
