"""Service tasks with the HTTP connector: validation, the worker's calls, retries, incidents, the allow-list."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from engine.core.errors import DeploymentInvalid, Forbidden, InvalidInput
from engine.db.models import Event, Job
from engine.definitions import deployments
from engine.integration import connectors
from engine.runtime import instances, jobs
from tests.bpmn_samples import document, flow, process
from tests.factories import ADMIN, BOT, source

CONNECTOR = "https://pmoflow.dev/schema/bpmn/1.0"


def service_task(connector: str, tid: str = "call") -> str:
    return (
        f'<bpmn:serviceTask id="{tid}" name="Create the project in the ERP"><bpmn:extensionElements>'
        f"{connector}</bpmn:extensionElements></bpmn:serviceTask>\n"
    )


def connector_process(connector: str, pid: str = "erp") -> str:
    body = (
        '<bpmn:startEvent id="start"/>\n'
        + service_task(connector)
        + '<bpmn:endEvent id="end"/>\n'
        + flow("f1", "start", "call")
        + flow("f2", "call", "end")
    )
    return document(process(body, pid=pid))


def post_to(url: str, extra: str = "", attrs: str = 'retries="2"') -> str:
    return (
        f'<pmoflow:connector method="POST" url="{url}" timeout="5" {attrs} resultVariable="erp_response">'
        '<pmoflow:header name="X-Team" value="{department}"/>'
        '<pmoflow:body>{"title": title, "budget": budget * 2}</pmoflow:body>'
        "<pmoflow:output variable=\"erp_id\" expression=\"response['body']['id']\"/>"
        f"{extra}</pmoflow:connector>"
    )


class Receiver(BaseHTTPRequestHandler):
    answers: list[tuple[int, dict]] = []
    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self.seen.append(
            {"path": self.path, "headers": dict(self.headers), "body": json.loads(self.rfile.read(length) or b"null")}
        )
        status, body = self.answers.pop(0) if self.answers else (201, {"id": "PRJ-1"})
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 302:
            self.send_header("Location", "http://169.254.169.254/latest/meta-data")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.answers, Receiver.seen = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def deploy(ctx, url: str, **kw) -> None:
    bpmn = connector_process(post_to(url + "/projects/{department}", **kw))
    deployments.deploy(ctx, ADMIN, [source("erp.bpmn", bpmn)])


def start(ctx):
    return instances.start(ctx, BOT, "erp", variables={"title": "CRM", "budget": 100, "department": "IT Ops"})


def events(ctx, instance_id: str) -> list[Event]:
    return list(instances.audit_trail(ctx, ADMIN, instance_id))


def job_rows(ctx) -> list[Job]:
    with ctx.uow(write=False) as uow:
        rows = list(uow.session.scalars(select(Job).where(Job.kind == "connector").order_by(Job.id)))
        uow.session.expunge_all()
        return rows


# ---------------------------------------------------------------- deploy-time validation


@pytest.mark.parametrize(
    ("connector", "message"),
    [
        ('<pmoflow:connector method="FETCH" url="https://erp.example.com"/>', "method 'FETCH'"),
        ('<pmoflow:connector url="ftp://erp.example.com/x"/>', "absolute http or https"),
        ('<pmoflow:connector url="https://user:pw@erp.example.com/x"/>', "credentials in the url"),
        ('<pmoflow:connector url="https://erp.example.com/{not a name}"/>', "placeholder"),
        ('<pmoflow:connector url="https://erp.example.com" timeout="600"/>', "timeout must be between"),
        ('<pmoflow:connector url="https://erp.example.com" retries="many"/>', "retries 'many' is not a number"),
        (
            '<pmoflow:connector url="https://erp.example.com"><pmoflow:header name="X Bad" value="1"/>'
            "</pmoflow:connector>",
            "not a valid HTTP header name",
        ),
        (
            '<pmoflow:connector url="https://erp.example.com"><pmoflow:header name="Authorization" secret="lower"/>'
            "</pmoflow:connector>",
            "secret name",
        ),
        (
            '<pmoflow:connector url="https://erp.example.com"><pmoflow:body>{"a": 1}</pmoflow:body></pmoflow:connector>',
            "a GET request has no body",
        ),
        (
            '<pmoflow:connector method="POST" url="https://erp.example.com"><pmoflow:body>{"a": </pmoflow:body>'
            "</pmoflow:connector>",
            "body does not compile",
        ),
        (
            '<pmoflow:connector url="https://erp.example.com"><pmoflow:output variable="x" expression="import os"/>'
            "</pmoflow:connector>",
            "output 'x' does not compile",
        ),
        ("", "service task has nothing to run"),
    ],
)
def test_deploy_names_each_connector_problem_on_its_element(ctx, connector, message):
    with pytest.raises(DeploymentInvalid) as caught:
        deployments.deploy(ctx, ADMIN, [source("erp.bpmn", connector_process(connector))])
    problems = caught.value.details["problems"]
    assert any(message in p["message"] and p["element_id"] == "call" and p["line"] for p in problems), problems


# ---------------------------------------------------------------- calls made by the worker


def test_the_worker_makes_the_call_and_the_response_completes_the_task(ctx, receiver):
    connectors.add_host(ctx, ADMIN, "127.0.0.1", allow_private=True, note="test receiver")
    deploy(ctx, receiver)
    view = start(ctx)
    assert instances.get(ctx, ADMIN, view.id).status == "running"
    assert view.open_tasks == []  # no person's task: the worker's
    assert Receiver.seen == []  # nothing is sent inside the step
    assert jobs.run_due(ctx) == 1
    [request] = Receiver.seen
    assert request["path"] == "/projects/IT%20Ops"
    assert request["body"] == {"title": "CRM", "budget": 200}
    assert request["headers"]["X-Team"] == "IT Ops"
    [job] = job_rows(ctx)
    assert request["headers"]["Idempotency-Key"] == job.uuid and job.status == "done"
    done = instances.get(ctx, ADMIN, view.id)
    assert done.status == "completed"
    assert done.variables["erp_id"] == "PRJ-1"
    assert done.variables["erp_response"]["status"] == 201
    completed = [e for e in events(ctx, view.id) if e.type == "connector_call_completed"]
    assert len(completed) == 1 and completed[0].element_id == "call" and completed[0].data["status"] == 201


def test_server_errors_are_retried_with_backoff_then_succeed(ctx, clock, receiver):
    connectors.add_host(ctx, ADMIN, "127.0.0.1", allow_private=True)
    deploy(ctx, receiver)
    view = start(ctx)
    Receiver.answers = [(503, {"error": "busy"})]
    assert jobs.run_due(ctx) == 1
    [job] = job_rows(ctx)
    assert job.status == "pending" and "503" in job.last_error and job.run_at == clock.now() + timedelta(seconds=10)
    assert jobs.run_due(ctx) == 0  # not before the backoff
    clock.advance(timedelta(seconds=10))
    assert jobs.run_due(ctx) == 1
    assert instances.get(ctx, ADMIN, view.id).status == "completed" and len(Receiver.seen) == 2


def test_running_out_of_retries_raises_an_incident_and_a_retry_calls_again(ctx, clock, receiver):
    connectors.add_host(ctx, ADMIN, "127.0.0.1", allow_private=True)
    deploy(ctx, receiver, attrs='retries="1"')
    view = start(ctx)
    Receiver.answers = [(500, {}), (502, {})]
    jobs.run_due(ctx)
    clock.advance(timedelta(minutes=1))
    jobs.run_due(ctx)
    failed = instances.get(ctx, ADMIN, view.id)
    assert failed.status == "error"
    assert failed.error["element_id"] == "call" and "after 2 attempt(s)" in failed.error["message"]
    assert "502" in failed.error["message"]
    instances.retry(ctx, ADMIN, view.id, {})
    assert instances.get(ctx, ADMIN, view.id).status == "running"
    assert jobs.run_due(ctx) == 1
    assert instances.get(ctx, ADMIN, view.id).status == "completed" and len(Receiver.seen) == 3


def test_client_errors_and_redirects_are_not_retried(ctx, receiver):
    connectors.add_host(ctx, ADMIN, "127.0.0.1", allow_private=True)
    deploy(ctx, receiver)
    first, second = start(ctx), start(ctx)
    Receiver.answers = [(404, {"error": "no such department"}), (302, {})]
    assert jobs.run_due(ctx) == 2
    messages = sorted(instances.get(ctx, ADMIN, v.id).error["message"] for v in (first, second))
    assert "answered 302; redirects are not followed" in messages[0] + messages[1]
    assert any("answered 404" in m and "no such department" in m for m in messages)
    assert len(Receiver.seen) == 2


def test_hosts_off_the_allow_list_and_internal_addresses_are_refused(ctx, receiver):
    deploy(ctx, receiver)
    view = start(ctx)
    jobs.run_due(ctx)
    refused = instances.get(ctx, ADMIN, view.id)
    assert refused.status == "error" and "not on the connector allow-list" in refused.error["message"]
    connectors.add_host(ctx, ADMIN, "127.0.0.1")  # listed, but private addresses not allowed
    instances.retry(ctx, ADMIN, view.id, {})
    jobs.run_due(ctx)
    internal = instances.get(ctx, ADMIN, view.id)
    assert internal.status == "error" and "internal address 127.0.0.1" in internal.error["message"]
    assert Receiver.seen == []  # nothing reached the receiver


def test_header_secrets_come_from_the_environment_at_send_time(ctx, receiver, monkeypatch):
    connectors.add_host(ctx, ADMIN, "127.0.0.1", allow_private=True)
    deploy(ctx, receiver, extra='<pmoflow:header name="Authorization" secret="ERP_TOKEN"/>')
    view = start(ctx)
    monkeypatch.setenv("PMOFLOW_CONNECTOR_SECRET_ERP_TOKEN", "Bearer s3cret")
    jobs.run_due(ctx)
    assert Receiver.seen[0]["headers"]["Authorization"] == "Bearer s3cret"
    with ctx.uow(write=False) as uow:
        stored = [json.dumps(j.payload) for j in uow.session.scalars(select(Job))]
        trail = [json.dumps(e.data) for e in uow.session.scalars(select(Event))]
    assert not any("s3cret" in text for text in stored + trail)
    assert instances.get(ctx, ADMIN, view.id).status == "completed"


def test_a_missing_variable_in_the_url_is_an_incident_at_once(ctx, receiver):
    connectors.add_host(ctx, ADMIN, "127.0.0.1", allow_private=True)
    deploy(ctx, receiver)
    view = instances.start(ctx, BOT, "erp", variables={"title": "CRM", "budget": 1})
    assert view.status == "error" and "variable 'department'" in view.error["message"]
    assert job_rows(ctx) == []


def test_a_failing_output_mapping_is_an_incident_naming_the_output(ctx, receiver):
    connectors.add_host(ctx, ADMIN, "127.0.0.1", allow_private=True)
    deploy(ctx, receiver)
    view = start(ctx)
    Receiver.answers = [(200, {"unexpected": True})]
    jobs.run_due(ctx)
    failed = instances.get(ctx, ADMIN, view.id)
    assert failed.status == "error" and "output 'erp_id'" in failed.error["message"]


def test_a_cancelled_instance_drops_the_late_result(ctx, receiver):
    connectors.add_host(ctx, ADMIN, "127.0.0.1", allow_private=True)
    deploy(ctx, receiver)
    view = start(ctx)
    instances.cancel(ctx, ADMIN, view.id, "no longer needed")
    jobs.run_due(ctx)
    assert instances.get(ctx, ADMIN, view.id).status == "cancelled"
    assert any(e.type == "connector_result_dropped" for e in events(ctx, view.id))


# ---------------------------------------------------------------- the allow-list


@pytest.mark.parametrize(
    ("raw", "pattern"),
    [
        ("ERP.Example.com.", "erp.example.com"),
        ("*.example.com", "*.example.com"),
        ("10.1.2.3", "10.1.2.3"),
        ("::1", "::1"),
    ],
)
def test_allow_list_patterns_are_normalized(raw, pattern):
    assert connectors.normalize_pattern(raw) == pattern


@pytest.mark.parametrize(
    "raw", ["", "https://erp.example.com", "erp.example.com:8443", "erp.example.com/api", "*.com", "bad host", "a..b"]
)
def test_bad_allow_list_patterns_are_refused_with_the_field(raw):
    with pytest.raises(InvalidInput) as caught:
        connectors.normalize_pattern(raw)
    assert "pattern" in caught.value.details["fields"]


def test_only_admins_manage_the_allow_list_and_changes_are_audited(ctx):
    with pytest.raises(Forbidden):
        connectors.add_host(ctx, BOT, "erp.example.com")
    host = connectors.add_host(ctx, ADMIN, "erp.example.com", note="ERP")
    assert [h.pattern for h in connectors.list_hosts(ctx, ADMIN)] == ["erp.example.com"]
    connectors.remove_host(ctx, ADMIN, host.id)
    assert connectors.list_hosts(ctx, ADMIN) == []
    with ctx.uow(write=False) as uow:
        types = [e.type for e in uow.session.scalars(select(Event).order_by(Event.id))]
    assert types.count("connector_host_added") == 1 and types.count("connector_host_removed") == 1
