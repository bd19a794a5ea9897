"""Webhooks: signed (verified by a real local receiver), retried with backoff, logged, redelivered,
filtered by event type, never sent for a rolled-back step, never sent to refused addresses."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select
from standardwebhooks import Webhook, WebhookVerificationError

from engine.core.context import EngineContext
from engine.core.errors import Conflict, Forbidden, InvalidInput
from engine.db.models import Job, WebhookDelivery, WebhookSubscription
from engine.events import stream as audit
from engine.integration import webhooks
from engine.outbound import client, policy
from engine.runtime import instances, jobs
from tests.factories import ADMIN, ALICE, BOT, deploy_shipped, write_concurrently


class Receiver:
    """A local HTTP endpoint that answers from a script and verifies every signature it gets."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.answers: list[tuple[int, dict[str, str]]] = []
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    payload = Webhook(receiver.secret).verify(raw, headers)
                    verified = True
                except WebhookVerificationError:
                    payload, verified = json.loads(raw), False
                receiver.received.append({"headers": headers, "payload": payload, "verified": verified})
                status, extra = receiver.answers.pop(0) if receiver.answers else (200, {})
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                body = b'{"ok": true}'
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/pmoflow"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def wctx(settings, clock):
    """An engine context that may post to loopback, with the clock at the real time (signatures carry it)."""
    clock.set(datetime.now(UTC).replace(microsecond=0))
    context = EngineContext.from_settings(replace(settings, webhooks_allow_private=True), clock=clock)
    yield context
    context.db.dispose()


def subscribe(ctx, receiver, types=("*",), **kw):
    issued = webhooks.create_subscription(ctx, ADMIN, receiver.url, list(types), "test receiver", **kw)
    receiver.secret = issued.secret
    return issued


def emit(ctx, type_="instance_started", data=None, commit=True):
    with ctx.uow() as uow:
        event = audit.record(uow.session, type_, ctx.clock.now(), actor="tester", data=data or {"n": 1})
        if commit:
            uow.commit()
        return event.uuid


def deliveries(ctx, subscription_id):
    return webhooks.list_deliveries(ctx, ADMIN, subscription_id)


def count(ctx, model) -> int:
    with ctx.uow(write=False) as uow:
        return uow.session.scalar(select(func.count()).select_from(model)) or 0


def test_a_delivery_is_signed_and_the_receiver_verifies_it(wctx, receiver):
    issued = subscribe(wctx, receiver)
    assert issued.secret.startswith("whsec_")
    event_id = emit(wctx, data={"title": "New CRM"})
    assert jobs.run_due(wctx) == 1
    [got] = receiver.received
    assert got["verified"], "standardwebhooks' Webhook.verify refused the signature"
    assert got["headers"]["webhook-id"] == event_id
    assert got["payload"]["type"] == "instance_started"
    assert got["payload"]["data"]["event_id"] == event_id and got["payload"]["data"]["details"] == {"title": "New CRM"}
    [d] = deliveries(wctx, issued.subscription.id)
    assert d.status == "delivered" and d.attempts == 1 and d.event_id == event_id
    [attempt] = webhooks.get_delivery(wctx, ADMIN, d.id).attempts
    assert attempt.status_code == 200 and attempt.outcome == "delivered" and attempt.response_excerpt == '{"ok": true}'
    # A wrong secret does not verify: the receiver's check is real.
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.new_secret()).verify(json.dumps(got["payload"]), got["headers"])


def test_the_secret_is_encrypted_at_rest_shown_once_and_rotatable(wctx, receiver):
    issued = subscribe(wctx, receiver)
    with wctx.uow(write=False) as uow:
        stored = uow.session.scalars(select(WebhookSubscription)).one().secret_encrypted
    assert issued.secret not in stored and issued.secret[6:] not in stored
    assert not hasattr(webhooks.get_subscription(wctx, ADMIN, issued.subscription.id), "secret")
    rotated = webhooks.rotate_secret(wctx, ADMIN, issued.subscription.id)
    assert rotated.secret != issued.secret
    emit(wctx)
    jobs.run_due(wctx)
    assert not receiver.received[-1]["verified"]  # the receiver still has the old secret
    receiver.secret = rotated.secret
    emit(wctx)
    jobs.run_due(wctx)
    assert receiver.received[-1]["verified"]


def test_a_changed_secret_key_fails_the_delivery_with_a_clear_error(wctx, receiver, clock):
    issued = subscribe(wctx, receiver)
    emit(wctx)
    other = EngineContext(settings=replace(wctx.settings, secret_key="another key"), db=wctx.db, clock=clock)
    assert jobs.run_due(other) == 1
    [d] = deliveries(wctx, issued.subscription.id)
    assert d.status == "failed" and "PMOFLOW_SECRET_KEY" in d.last_error and receiver.received == []


def test_failures_retry_with_exponential_backoff_and_every_attempt_is_logged(wctx, receiver, clock):
    issued = subscribe(wctx, receiver)
    receiver.answers = [(503, {}), (500, {}), (200, {})]
    emit(wctx)
    assert jobs.run_due(wctx) == 1
    [d] = deliveries(wctx, issued.subscription.id)
    assert d.status == "retrying" and d.next_attempt_at == clock.now() + timedelta(seconds=30)
    clock.advance(timedelta(seconds=29))
    assert jobs.run_due(wctx) == 0
    clock.advance(timedelta(seconds=2))
    assert jobs.run_due(wctx) == 1
    [d] = deliveries(wctx, issued.subscription.id)
    assert d.next_attempt_at == clock.now() + timedelta(minutes=2)
    clock.advance(timedelta(minutes=2, seconds=1))
    assert jobs.run_due(wctx) == 1
    detail = webhooks.get_delivery(wctx, ADMIN, d.id)
    assert detail.delivery.status == "delivered" and detail.delivery.attempts == 3
    assert [(a.attempt, a.status_code, a.outcome) for a in detail.attempts] == [
        (1, 503, "retry"),
        (2, 500, "retry"),
        (3, 200, "delivered"),
    ]
    assert detail.attempts[0].error == "HTTP 503"
    assert len({r["headers"]["webhook-id"] for r in receiver.received}) == 1  # the same id on every attempt
    assert all(r["verified"] for r in receiver.received)


def test_client_errors_fail_for_good_but_429_waits_as_asked(wctx, receiver, clock):
    issued = subscribe(wctx, receiver)
    receiver.answers = [(410, {}), (429, {"Retry-After": "7"})]
    emit(wctx)
    emit(wctx)
    assert jobs.run_due(wctx) == 2
    states = {d.status: d for d in deliveries(wctx, issued.subscription.id)}
    assert states["failed"].last_error == "HTTP 410" and states["failed"].attempts == 1
    assert states["retrying"].next_attempt_at == clock.now() + timedelta(seconds=7)
    clock.advance(timedelta(days=1))
    assert jobs.run_due(wctx) == 1  # only the 429 is tried again


def test_a_down_receiver_is_retried_until_attempts_run_out(wctx, receiver, clock):
    issued = subscribe(wctx, receiver)
    receiver.close()
    emit(wctx)
    for _ in range(webhooks.MAX_ATTEMPTS):
        assert jobs.run_due(wctx) == 1
        clock.advance(timedelta(hours=7))
    assert jobs.run_due(wctx) == 0
    detail = webhooks.get_delivery(wctx, ADMIN, deliveries(wctx, issued.subscription.id)[0].id)
    assert detail.delivery.status == "failed" and len(detail.attempts) == webhooks.MAX_ATTEMPTS
    assert detail.attempts[-1].outcome == "failed" and "Connect" in detail.attempts[0].error


def test_a_delivery_can_be_sent_again_by_hand(wctx, receiver):
    issued = subscribe(wctx, receiver)
    receiver.answers = [(400, {})]
    emit(wctx)
    jobs.run_due(wctx)
    [d] = deliveries(wctx, issued.subscription.id)
    assert d.status == "failed"
    again = webhooks.redeliver(wctx, ADMIN, d.id)
    assert again.status == "retrying"
    assert jobs.run_due(wctx) == 1
    detail = webhooks.get_delivery(wctx, ADMIN, d.id)
    assert detail.delivery.status == "delivered"
    assert [a.status_code for a in detail.attempts] == [400, 200]
    assert receiver.received[0]["headers"]["webhook-id"] == receiver.received[1]["headers"]["webhook-id"]
    webhooks.update_subscription(wctx, ADMIN, issued.subscription.id, active=False)
    with pytest.raises(Conflict):
        webhooks.redeliver(wctx, ADMIN, d.id)


def test_only_matching_active_subscriptions_get_the_event(wctx, receiver):
    tasks_only = subscribe(wctx, receiver, ["task_created", "task_completed"])
    everything = subscribe(wctx, receiver, ["*"])
    disabled = subscribe(wctx, receiver, ["*"], active=False)
    emit(wctx, "instance_started")
    emit(wctx, "task_created")
    assert [d.event_type for d in deliveries(wctx, tasks_only.subscription.id)] == ["task_created"]
    assert [d.event_type for d in deliveries(wctx, everything.subscription.id)] == ["task_created", "instance_started"]
    assert deliveries(wctx, disabled.subscription.id) == []


def test_nothing_is_delivered_for_a_rolled_back_step(wctx, receiver, monkeypatch):
    deploy_shipped(wctx)
    issued = subscribe(wctx, receiver, ["instance_started", "task_created"])
    emit(wctx, "task_created", commit=False)  # an event whose transaction rolled back

    def fail_after_the_events(session, event, instance):
        if event.type == "task_created":
            raise RuntimeError("the step fails after writing its events")

    monkeypatch.setattr(audit, "_subscribers", [*audit._subscribers, fail_after_the_events])
    with pytest.raises(RuntimeError):
        instances.start(wctx, BOT, "project-intake", variables={"title": "t", "budget": 1, "department": "IT"})
    assert count(wctx, WebhookDelivery) == 0 and count(wctx, Job) == 0
    assert jobs.run_due(wctx) == 0 and receiver.received == []
    monkeypatch.setattr(audit, "_subscribers", [s for s in audit._subscribers if s is not fail_after_the_events])
    instances.start(wctx, BOT, "project-intake", variables={"title": "t", "budget": 1, "department": "IT"})
    assert {d.event_type for d in deliveries(wctx, issued.subscription.id)} == {"instance_started", "task_created"}


@pytest.mark.parametrize(
    "url, allow, problem",
    [
        ("http://127.0.0.1:8080/hook", False, "private or loopback"),
        ("https://10.1.2.3/hook", False, "private or loopback"),
        ("https://[::1]/hook", False, "private or loopback"),
        ("https://[::ffff:192.168.0.9]/hook", False, "private or loopback"),
        ("https://169.254.169.254/latest/meta-data", True, "metadata"),
        ("https://[fe80::1]/hook", True, "link-local"),
        ("https://0.0.0.0/hook", True, "reserved"),
        ("http://93.184.215.14/hook", False, "https://"),
        ("http://10.1.2.3/hook", True, "https://"),  # plain http only to loopback
        ("ftp://93.184.215.14/hook", False, "https://"),
        ("https://user:pw@93.184.215.14/hook", False, "password"),
        ("https://internal.example/hook", False, "private or loopback"),  # resolves to 10.0.0.7
        ("https://nowhere.invalid/hook", False, "does not resolve"),
        ("", False, "Enter"),
    ],
)
def test_refused_addresses(url, allow, problem, monkeypatch):
    def fake_dns(host, port):
        if host == "internal.example":
            return [(2, 1, 6, "", ("10.0.0.7", port))]
        raise OSError("no such host")

    monkeypatch.setattr(policy, "RESOLVE", fake_dns)
    with pytest.raises(InvalidInput) as err:
        webhooks.check_url(url, allow_private=allow)
    assert problem in err.value.details["fields"]["url"]


def test_allowed_addresses():
    assert webhooks.check_url(" https://93.184.215.14/hook ", allow_private=False) == "https://93.184.215.14/hook"
    assert webhooks.check_url("http://127.0.0.1:9/hook", allow_private=True) == "http://127.0.0.1:9/hook"
    assert webhooks.check_url("https://10.1.2.3/hook", allow_private=True) == "https://10.1.2.3/hook"


def test_the_service_refuses_bad_input_with_every_field_named(ctx):
    with pytest.raises(InvalidInput) as err:
        webhooks.create_subscription(ctx, ADMIN, "http://127.0.0.1/x", ["Bad Type!"], "d" * 501)
    assert set(err.value.details["fields"]) == {"url", "event_types", "description"}
    with pytest.raises(InvalidInput):
        webhooks.create_subscription(ctx, ADMIN, "https://93.184.215.14/x", [], "")
    assert count(ctx, WebhookSubscription) == 0
    with pytest.raises(Forbidden):
        webhooks.create_subscription(ctx, ALICE, "https://93.184.215.14/x", ["*"])


def test_a_refused_address_at_delivery_time_fails_without_sending(wctx, receiver, clock):
    issued = subscribe(wctx, receiver)
    emit(wctx)
    strict = EngineContext(settings=replace(wctx.settings, webhooks_allow_private=False), db=wctx.db, clock=clock)
    assert jobs.run_due(strict) == 1
    detail = webhooks.get_delivery(wctx, ADMIN, deliveries(wctx, issued.subscription.id)[0].id)
    assert detail.delivery.status == "failed" and "refused address" in detail.attempts[0].error
    assert receiver.received == []


def test_the_connection_itself_is_checked_before_anything_is_sent(receiver):
    port = int(receiver.url.split(":")[2].split("/")[0])
    with pytest.raises(policy.AddressRefused):
        client.GuardedBackend(allow_private=False).connect_tcp("localhost", port)
    client.GuardedBackend(allow_private=True).connect_tcp("127.0.0.1", port).close()


def test_deleting_a_subscription_drops_its_pending_deliveries(wctx, receiver):
    issued = subscribe(wctx, receiver)
    emit(wctx)
    webhooks.delete_subscription(wctx, ADMIN, issued.subscription.id)
    assert jobs.run_due(wctx) == 0 and receiver.received == [] and count(wctx, WebhookDelivery) == 0


def test_a_subscription_saved_by_another_process_gets_the_very_next_event(wctx, receiver):
    emit(wctx)  # no subscriptions yet: nothing to deliver
    assert count(wctx, WebhookDelivery) == 0
    other = EngineContext.from_settings(wctx.settings, clock=wctx.clock)  # its own engine and pool
    try:
        issued = subscribe(other, receiver, ["instance_started"])
        event_id = emit(wctx)  # the very next event of the first process
        assert [d.event_id for d in deliveries(wctx, issued.subscription.id)] == [event_id]
        webhooks.update_subscription(other, ADMIN, issued.subscription.id, active=False)
        emit(wctx)  # and a disabled one gets nothing from then on
        assert count(wctx, WebhookDelivery) == 1
    finally:
        other.db.dispose()


def test_a_subscription_committed_while_a_step_runs_gets_that_steps_events(wctx, receiver):
    if wctx.db.dialect.name == "sqlite":
        pytest.skip("SQLite writers are serialized: no subscription can commit while a step runs")
    other = EngineContext.from_settings(wctx.settings, clock=wctx.clock)
    try:
        with wctx.uow() as uow:
            event = audit.record(uow.session, "instance_started", wctx.clock.now(), actor="tester", data={"n": 1})
            issued = subscribe(other, receiver)  # committed after the event, before the step commits
            uow.commit()
        assert [d.event_id for d in deliveries(wctx, issued.subscription.id)] == [event.uuid]
    finally:
        other.db.dispose()


def test_events_cost_no_query_of_their_own_for_subscriptions(wctx, receiver):
    from sqlalchemy import event as sa_event

    subscribe(wctx, receiver, ["task_created"])
    seen: list[str] = []

    def on_execute(_conn, _cursor, statement, *_args):
        seen.append(" ".join(statement.split()))

    sa_event.listen(wctx.db, "before_cursor_execute", on_execute)
    try:
        emit(wctx, "task_created")
        emit(wctx, "task_completed")
    finally:
        sa_event.remove(wctx.db, "before_cursor_execute", on_execute)
    reads = [s for s in seen if "webhook_subscriptions" in s]
    assert len(reads) == 2 and all(s.startswith("SELECT") and "events" in s and "UNION ALL" in s for s in reads)
    assert count(wctx, WebhookDelivery) == 1


def test_deleting_a_subscription_while_a_step_links_its_events_does_not_deadlock(wctx, receiver, monkeypatch):
    if wctx.db.dialect.name == "sqlite":
        pytest.skip("SQLite writers are serialized already")
    issued = subscribe(wctx, receiver)
    other = EngineContext.from_settings(wctx.settings, clock=wctx.clock)
    deleted, go = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    real = audit.record

    def pausing(session, type_, *args, **kw):
        event = real(session, type_, *args, **kw)
        if type_ == "webhook_deleted":
            session.flush()  # the DELETE is sent; its row lock is held until the commit
            deleted.set()
            go.wait(30)
        return event

    def run(fn) -> None:
        try:
            fn()
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    monkeypatch.setattr(audit, "record", pausing)
    try:
        deleting = threading.Thread(
            target=run, args=(lambda: webhooks.delete_subscription(other, ADMIN, issued.subscription.id),)
        )
        deleting.start()
        assert deleted.wait(30)
        step = threading.Thread(target=run, args=(lambda: emit(wctx),))  # links its event meanwhile
        step.start()
        step.join(timeout=0.5)
        go.set()
        deleting.join(timeout=30)
        step.join(timeout=30)
        assert errors == [] and not deleting.is_alive() and not step.is_alive()
        assert count(wctx, WebhookSubscription) == 0 and count(wctx, WebhookDelivery) == 0
    finally:
        go.set()
        other.db.dispose()


def test_concurrent_steps_each_deliver_their_own_events_once_and_keep_one_chain(wctx, receiver):
    issued = subscribe(wctx, receiver, ["login", "password_changed"])
    write_concurrently(wctx, writers=4, rounds=5)
    with wctx.uow(write=False) as uow:
        assert audit.verify(uow.session).ok
        events = set(
            uow.session.scalars(select(audit.Event.uuid).where(audit.Event.type.in_(["login", "password_changed"])))
        )
        delivered = list(uow.session.scalars(select(WebhookDelivery.event_uuid)))
    assert len(events) == 40 and sorted(delivered) == sorted(events)
    assert len(deliveries(wctx, issued.subscription.id)) == 40
