"""External tasks: models as Camunda 7, Camunda 8, SpiffArena and our designer write them, run to the end
through the worker's calls, with locks, failures, BPMN errors, incidents and concurrent fetchers."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from engine.core.errors import Conflict, DeploymentInvalid, Forbidden, InvalidInput, NotFound
from engine.core.permissions import Actor
from engine.definitions import deployments
from engine.integration import external_tasks as et
from engine.integration import external_views
from engine.runtime import instances, timers
from tests.bpmn_samples import HEAD, document, flow, linear, process
from tests.designer.miwg import CORPUS as MIWG
from tests.factories import ADMIN, ALICE, BOT, source

MODELS = Path(__file__).resolve().parents[2] / "models" / "external"
WORKER = Actor("billing-bot", roles=frozenset({"external-worker"}))
CAMUNDA = 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
ZEEBE = 'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"'
SPIFF = 'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"'


def deploy_model(ctx, name: str) -> None:
    deployments.deploy(ctx, ADMIN, [source(name, (MODELS / name).read_bytes())])


def fetch(ctx, topic: str, worker: str = "w1", lock_ms: int = 60_000, max_tasks: int = 10, variables=None):
    return et.fetch_and_lock(ctx, WORKER, worker, max_tasks, [et.TopicRequest(topic, lock_ms, variables)])


def path(ctx, instance_id: str) -> list[str]:
    """Element ids in the order the instance passed them (from the audit trail)."""
    return [e.element_id for e in instances.audit_trail(ctx, ADMIN, instance_id) if e.type == "element_completed"]


def events(ctx, instance_id: str) -> list[str]:
    return [e.type for e in instances.audit_trail(ctx, ADMIN, instance_id)]


def with_ns(xml: str, *namespaces: str) -> str:
    return xml.replace(HEAD.splitlines()[1], HEAD.splitlines()[1] + " " + " ".join(namespaces), 1)


# ---------------------------------------------------------------- deploy


@pytest.mark.parametrize(
    ("task", "message", "code"),
    [
        (
            '<bpmn:serviceTask id="call" name="Call"/>',
            "service task has nothing to run: add an external task topic",
            "no_implementation",
        ),
        (
            '<bpmn:serviceTask id="call" camunda:expression="${amount * 2}"/>',
            "names no bean or class to use as the topic",
            "bad_external_task",
        ),
        (
            '<bpmn:serviceTask id="call" camunda:class="not a class"/>',
            "camunda:class='not a class' names no bean",
            "bad_external_task",
        ),
        (
            '<bpmn:serviceTask id="call" camunda:type="external"/>',
            'camunda:type="external" needs a camunda:topic',
            "bad_external_task",
        ),
        (
            '<bpmn:serviceTask id="call"><bpmn:extensionElements><zeebe:taskDefinition type="=region + \'-bill\'"/>'
            "</bpmn:extensionElements></bpmn:serviceTask>",
            "computed by an expression",
            "bad_external_task",
        ),
        (
            '<bpmn:serviceTask id="call"><bpmn:extensionElements><zeebe:taskDefinition type="bill" retries="many"/>'
            "</bpmn:extensionElements></bpmn:serviceTask>",
            "retries 'many'",
            "bad_external_task",
        ),
        ('<bpmn:serviceTask id="call" pmoflow:topic="  "/>', "pmoflow:topic is empty", "bad_external_task"),
        (
            '<bpmn:serviceTask id="call"><bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="x">'
            '<spiffworkflow:parameters><spiffworkflow:parameter id="a" type="int" value="import os"/>'
            "</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements></bpmn:serviceTask>",
            "parameter 'a' (import os) does not compile",
            "bad_external_task",
        ),
        (
            '<bpmn:serviceTask id="call" pmoflow:topic="erp"><bpmn:extensionElements>'
            '<pmoflow:connector url="https://erp.example.com"/></bpmn:extensionElements></bpmn:serviceTask>',
            "both a topic and an HTTP connector",
            "bad_external_task",
        ),
        (
            '<bpmn:scriptTask id="call" pmoflow:topic="x"><bpmn:script>a = 1</bpmn:script></bpmn:scriptTask>',
            "has a script too",
            "bad_external_task",
        ),
        (
            '<bpmn:businessRuleTask id="call" camunda:type="external" camunda:topic="x" camunda:decisionRef="d"/>',
            "names a decision too",
            "bad_external_task",
        ),
    ],
)
def test_deploy_names_what_a_service_task_lacks(ctx, task, message, code):
    bpmn = with_ns(linear((task, "call")), CAMUNDA, ZEEBE, SPIFF)
    with pytest.raises(DeploymentInvalid) as caught:
        deployments.deploy(ctx, ADMIN, [source("x.bpmn", bpmn)])
    problems = caught.value.details["problems"]
    assert any(
        message in p["message"] and p["element_id"] == "call" and p["line"] and p["code"] == code for p in problems
    ), problems


def test_an_operation_ref_makes_a_plain_bpmn_service_task_an_external_task(ctx):
    bpmn = linear(('<bpmn:serviceTask id="call" operationRef="op_lookup"/>', "call")).replace(
        "</bpmn:definitions>",
        '<bpmn:message id="msg_lookup"/><bpmn:interface id="if_hr" name="HR">'
        '<bpmn:operation id="op_lookup" name="Look up employee">'
        "<bpmn:inMessageRef>msg_lookup</bpmn:inMessageRef></bpmn:operation>"
        "</bpmn:interface></bpmn:definitions>",
    )
    deployments.deploy(ctx, ADMIN, [source("x.bpmn", bpmn)])
    view = instances.start(ctx, BOT, "p1")
    [task] = fetch(ctx, "Look up employee")
    et.complete(ctx, WORKER, task.id, "w1", {"employee": "E-7"})
    assert instances.get(ctx, ADMIN, view.id).status == "completed"


# ---------------------------------------------------------------- models from other tools, run to the end


def test_camunda7_model_runs_as_exported(ctx):
    deploy_model(ctx, "camunda7_payment.bpmn")
    view = instances.start(ctx, BOT, "payment_c7", business_key="ORD-1", variables={"amount": 120, "card": "4111"})
    [charge] = fetch(ctx, "charge-card", variables=["amount"])
    assert (charge.element_id, charge.process, charge.business_key, charge.variables) == (
        "Activity_charge",
        "payment_c7",
        "ORD-1",
        {"amount": 120},
    )
    assert charge.lock_expires_at == ctx.clock.now() + timedelta(minutes=1)
    et.complete(ctx, WORKER, charge.id, "w1", {"transaction": "T-9"})
    [book] = fetch(ctx, "book-payment")  # a business rule task with a topic
    assert book.variables == {"amount": 120, "card": "4111", "transaction": "T-9"}
    done = et.complete(ctx, WORKER, book.id, "w1", {"booked": True})
    assert done.instance_status == "completed"
    assert path(ctx, view.id) == ["StartEvent_1", "Activity_charge", "Activity_book", "Event_paid"]
    assert instances.get(ctx, ADMIN, view.id).variables == {
        "amount": 120,
        "card": "4111",
        "transaction": "T-9",
        "booked": True,
    }
    trail = events(ctx, view.id)
    assert trail.count("external_task_created") == 2 and trail.count("external_task_completed") == 2


def test_a_bpmn_error_takes_the_error_boundary_path_with_the_workers_variables(ctx):
    deploy_model(ctx, "camunda7_payment.bpmn")
    view = instances.start(ctx, BOT, "payment_c7", variables={"amount": 120})
    [charge] = fetch(ctx, "charge-card")
    result = et.bpmn_error(ctx, WORKER, charge.id, "w1", "CARD_DECLINED", "limit exceeded", {"reason": "limit"})
    assert (result.status, result.instance_status) == ("bpmn_error", "running")
    [notify] = fetch(ctx, "notify-customer")  # a send task with a topic
    assert notify.variables["reason"] == "limit"
    et.complete(ctx, WORKER, notify.id, "w1")
    assert path(ctx, view.id) == ["StartEvent_1", "Event_declined", "Activity_notify", "Event_not_paid"]
    assert instances.get(ctx, ADMIN, view.id).status == "completed"
    assert fetch(ctx, "book-payment") == []


def test_an_uncaught_bpmn_error_is_an_incident_and_the_retry_offers_the_task_again(ctx):
    deploy_model(ctx, "camunda7_payment.bpmn")
    view = instances.start(ctx, BOT, "payment_c7", variables={"amount": 120})
    [charge] = fetch(ctx, "charge-card")
    result = et.bpmn_error(ctx, WORKER, charge.id, "w1", "FRAUD")
    assert (result.status, result.instance_status) == ("open", "error")
    error = instances.get(ctx, ADMIN, view.id).error
    assert error["element_id"] == "Activity_charge" and "'FRAUD'" in error["message"]
    assert fetch(ctx, "charge-card") == []  # the instance is in error
    instances.retry(ctx, ADMIN, view.id, {})
    [again] = fetch(ctx, "charge-card", worker="w2")
    assert again.id == charge.id and again.error_message == "BPMN error FRAUD"
    et.complete(ctx, WORKER, again.id, "w2")
    [book] = fetch(ctx, "book-payment")
    et.complete(ctx, WORKER, book.id, "w1")
    assert path(ctx, view.id) == ["StartEvent_1", "Activity_charge", "Activity_book", "Event_paid"]


def test_camunda8_model_runs_as_exported(ctx):
    deploy_model(ctx, "camunda8_fulfilment.bpmn")
    view = instances.start(ctx, BOT, "fulfilment_c8", variables={"order": {"sku": "A-1", "qty": 2}})
    [reserve] = fetch(ctx, "reserve-stock")
    assert reserve.retries == 3  # zeebe:taskDefinition retries
    assert reserve.variables["sku"] == "A-1"  # zeebe:ioMapping input (FEEL)
    et.complete(ctx, WORKER, reserve.id, "w1", {"reservation": {"id": "R-5"}})
    [label] = fetch(ctx, "print-label")  # a job-worker script task
    et.complete(ctx, WORKER, label.id, "w1", {"label": "L-1"})
    [ship] = fetch(ctx, "ship")  # type '="ship"': a FEEL string literal
    assert ship.retries == 5
    et.complete(ctx, WORKER, ship.id, "w1", {"tracking": "Z-1"})
    assert path(ctx, view.id) == ["StartEvent_1", "Task_reserve", "Task_label", "Task_ship", "Event_shipped"]
    variables = instances.get(ctx, ADMIN, view.id).variables
    assert variables["reservationId"] == "R-5"  # zeebe:ioMapping output
    assert (variables["label"], variables["tracking"]) == ("L-1", "Z-1")


def test_camunda8_error_boundary(ctx):
    deploy_model(ctx, "camunda8_fulfilment.bpmn")
    view = instances.start(ctx, BOT, "fulfilment_c8", variables={"order": {"sku": "A-1"}})
    [reserve] = fetch(ctx, "reserve-stock")
    et.bpmn_error(ctx, WORKER, reserve.id, "w1", "OUT_OF_STOCK")
    assert path(ctx, view.id) == ["StartEvent_1", "Event_out_of_stock", "Event_backordered"]
    assert instances.get(ctx, ADMIN, view.id).status == "completed"


def test_spiff_service_task_operator_hands_its_parameters_to_the_worker(ctx):
    deploy_model(ctx, "spiff_operator.bpmn")
    view = instances.start(ctx, BOT, "invoice_spiff", variables={"hours": 3, "rate": 100, "customer": "acme"})
    [task] = fetch(ctx, "http/PostRequestV2", variables=["url", "amount", "customer"])
    assert task.variables == {"url": "https://billing.example.com/invoices", "amount": 300, "customer": "ACME"}
    et.complete(ctx, WORKER, task.id, "w1", {"status": 201, "id": "INV-1"})
    detail = instances.get(ctx, ADMIN, view.id)
    assert detail.status == "completed"
    assert detail.variables["invoice_response"] == {"status": 201, "id": "INV-1"}  # its resultVariable
    assert path(ctx, view.id) == ["StartEvent_1", "send_invoice", "Event_done"]


def test_a_failing_parameter_is_an_incident_naming_the_element(ctx):
    deploy_model(ctx, "spiff_operator.bpmn")
    view = instances.start(ctx, BOT, "invoice_spiff", variables={"hours": 3, "rate": None, "customer": "acme"})
    detail = instances.get(ctx, ADMIN, view.id)
    assert detail.status == "error"
    assert detail.error["element_id"] == "send_invoice" and "'amount'" in detail.error["message"]
    assert fetch(ctx, "http/PostRequestV2") == []


def test_designer_topics_in_parallel_with_an_interrupting_timer_on_one(ctx, clock):
    deploy_model(ctx, "pmoflow_onboarding.bpmn")
    view = instances.start(ctx, BOT, "onboarding_ext", variables={"project": "CRM"})
    [repo] = fetch(ctx, "git-admin")
    [budget] = fetch(ctx, "erp-budget", worker="erp")
    clock.advance(timedelta(days=3))
    timers.fire_due(ctx)
    with pytest.raises(Conflict):  # the timer took the task away
        et.complete(ctx, WORKER, budget.id, "erp")
    assert [t.status for t in external_views.list_tasks(ctx, ADMIN, topic="erp-budget", status="all")] == ["cancelled"]
    [by_hand] = fetch(ctx, "finance-mail")
    et.complete(ctx, WORKER, by_hand.id, "w1")
    [repo_again] = fetch(ctx, "git-admin")  # the first lock expired during the 3 days
    et.complete(ctx, WORKER, repo_again.id, "w1", {"repo": "crm"})
    steps = path(ctx, view.id)
    assert steps[:2] == ["start", "split"] and steps[-2:] == ["join", "end"]
    assert steps.index("budget_timeout") < steps.index("budget_by_hand") < steps.index("budget_join")
    assert "create_budget" not in steps and "create_repo" in steps
    assert instances.get(ctx, ADMIN, view.id).variables["repo"] == "crm"


# ---------------------------------------------------------------- locks


def test_only_the_lock_holder_finishes_and_the_lock_expires_by_itself(ctx, clock):
    deploy_model(ctx, "camunda7_payment.bpmn")
    instances.start(ctx, BOT, "payment_c7", variables={"amount": 1})
    [task] = fetch(ctx, "charge-card", worker="w1", lock_ms=10_000)
    assert fetch(ctx, "charge-card", worker="w2") == []  # locked: not handed out twice
    for call in (
        lambda: et.complete(ctx, WORKER, task.id, "w2"),
        lambda: et.fail(ctx, WORKER, task.id, "w2", "x", 1),
        lambda: et.extend_lock(ctx, WORKER, task.id, "w2", 1000),
        lambda: et.bpmn_error(ctx, WORKER, task.id, "w2", "CARD_DECLINED"),
    ):
        with pytest.raises(Conflict, match="does not hold the lock"):
            call()
    extended = et.extend_lock(ctx, WORKER, task.id, "w1", 60_000)
    assert extended.lock_expires_at == clock.now() + timedelta(minutes=1)
    clock.advance(timedelta(seconds=61))
    with pytest.raises(Conflict, match="not locked"):
        et.complete(ctx, WORKER, task.id, "w1")
    [again] = fetch(ctx, "charge-card", worker="w2")
    assert again.id == task.id
    et.complete(ctx, WORKER, task.id, "w2")
    with pytest.raises(Conflict, match="completed"):  # a second completion
        et.complete(ctx, WORKER, task.id, "w2")
    with pytest.raises(NotFound):
        et.complete(ctx, WORKER, "no-such-task", "w2")


def test_failures_with_retries_wait_for_the_timeout_and_none_left_is_an_incident(ctx, clock):
    deploy_model(ctx, "camunda7_payment.bpmn")
    view = instances.start(ctx, BOT, "payment_c7", variables={"amount": 1})
    [task] = fetch(ctx, "charge-card")
    failed = et.fail(ctx, WORKER, task.id, "w1", "gateway timeout", retries=2, retry_timeout_ms=30_000)
    assert (failed.status, failed.retries, failed.instance_status) == ("open", 2, "running")
    assert fetch(ctx, "charge-card") == []  # not before the retry timeout
    clock.advance(timedelta(seconds=30))
    [again] = fetch(ctx, "charge-card")
    assert (again.retries, again.error_message) == (2, "gateway timeout")
    failed = et.fail(ctx, WORKER, again.id, "w1", "card service down", retries=0)
    assert failed.instance_status == "error"
    error = instances.get(ctx, ADMIN, view.id).error
    assert error["element_id"] == "Activity_charge" and "card service down" in error["message"]
    assert error["kind"] == "ExternalTaskFailed"
    assert fetch(ctx, "charge-card") == []
    instances.retry(ctx, ADMIN, view.id, {})
    [third] = fetch(ctx, "charge-card")
    assert third.retries is None
    et.complete(ctx, WORKER, third.id, "w1")
    trail = events(ctx, view.id)
    assert trail.count("external_task_failed") == 2 and "incident_raised" in trail


def test_cancelling_the_instance_cancels_its_external_tasks(ctx):
    deploy_model(ctx, "camunda7_payment.bpmn")
    view = instances.start(ctx, BOT, "payment_c7", variables={"amount": 1})
    [task] = fetch(ctx, "charge-card")
    instances.cancel(ctx, ADMIN, view.id, "customer left")
    assert [(t.id, t.status) for t in external_views.list_tasks(ctx, ADMIN, status="all")] == [(task.id, "cancelled")]
    with pytest.raises(Conflict):
        et.complete(ctx, WORKER, task.id, "w1")


# ---------------------------------------------------------------- bounded input and permissions


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda ctx: et.fetch_and_lock(ctx, WORKER, "", 1, [et.TopicRequest("a", 1)]), "worker_id"),
        (lambda ctx: et.fetch_and_lock(ctx, WORKER, "w", 0, [et.TopicRequest("a", 1)]), "max_tasks"),
        (lambda ctx: et.fetch_and_lock(ctx, WORKER, "w", 101, [et.TopicRequest("a", 1)]), "max_tasks"),
        (lambda ctx: et.fetch_and_lock(ctx, WORKER, "w", 1, []), "topics"),
        (
            lambda ctx: et.fetch_and_lock(ctx, WORKER, "w", 1, [et.TopicRequest(f"t{i}", 1) for i in range(51)]),
            "topics",
        ),
        (lambda ctx: et.fetch_and_lock(ctx, WORKER, "w", 1, [et.TopicRequest("a", 0)]), "topics.0.lock_duration_ms"),
        (
            lambda ctx: et.fetch_and_lock(ctx, WORKER, "w", 1, [et.TopicRequest("a", 10**12)]),
            "topics.0.lock_duration_ms",
        ),
        (
            lambda ctx: et.fetch_and_lock(ctx, WORKER, "w", 1, [et.TopicRequest("a", 1), et.TopicRequest("a", 1)]),
            "topics.1.name",
        ),
        (lambda ctx: et.fail(ctx, WORKER, "x", "w", "m", retries=-1), "retries"),
        (lambda ctx: et.fail(ctx, WORKER, "x", "w", "", retries=1), "message"),
        (lambda ctx: et.extend_lock(ctx, WORKER, "x", "w", 0), "new_duration_ms"),
        (lambda ctx: et.complete(ctx, WORKER, "x", "w", {"bad  name": 1}), "variables.bad  name"),
    ],
)
def test_bad_requests_name_the_field(ctx, call, field):
    with pytest.raises(InvalidInput) as caught:
        call(ctx)
    assert field in caught.value.details["fields"]


def test_only_workers_and_admins_work_and_workers_do_nothing_else(ctx):
    deploy_model(ctx, "camunda7_payment.bpmn")
    with pytest.raises(Forbidden):
        et.fetch_and_lock(ctx, ALICE, "w", 1, [et.TopicRequest("charge-card", 1000)])
    with pytest.raises(Forbidden):
        et.fetch_and_lock(ctx, BOT, "w", 1, [et.TopicRequest("charge-card", 1000)])
    with pytest.raises(Forbidden):
        external_views.list_tasks(ctx, WORKER)
    with pytest.raises(Forbidden):
        instances.start(ctx, WORKER, "payment_c7")
    assert et.fetch_and_lock(ctx, ADMIN, "w", 1, [et.TopicRequest("charge-card", 1000)]) == []


# ---------------------------------------------------------------- concurrency


def test_concurrent_fetchers_never_get_the_same_task(ctx):
    if ctx.db.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time; PostgreSQL claims rows with FOR UPDATE SKIP LOCKED")
    bpmn = linear(('<bpmn:serviceTask id="call" pmoflow:topic="load"/>', "call"))
    deployments.deploy(ctx, ADMIN, [source("x.bpmn", bpmn)])
    total = 60
    for i in range(total):
        instances.start(ctx, BOT, "p1", variables={"n": i})
    handed: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        try:
            while True:
                got = et.fetch_and_lock(ctx, WORKER, name, 3, [et.TopicRequest("load", 60_000)])
                if not got:
                    return
                with lock:
                    handed.extend(t.id for t in got)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(handed) == total and len(set(handed)) == total


def test_concurrent_completions_give_one_success(ctx):
    deploy_model(ctx, "camunda7_payment.bpmn")
    instances.start(ctx, BOT, "payment_c7", variables={"amount": 1})
    [task] = fetch(ctx, "charge-card")
    outcomes: list[str] = []

    def finish() -> None:
        try:
            et.complete(ctx, WORKER, task.id, "w1")
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=finish) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "ok"]


def test_processes_without_external_tasks_keep_working(ctx):
    bpmn = document(process('<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>' + flow("f", "s", "e")))
    deployments.deploy(ctx, ADMIN, [source("x.bpmn", bpmn)])
    assert instances.start(ctx, BOT, "p1").status == "completed"


@pytest.mark.parametrize(
    ("attribute", "topic"),
    [
        ('camunda:delegateExpression="#{archiveService}"', "archiveService"),
        ('camunda:delegateExpression="${archiveService}"', "archiveService"),
        ('camunda:class="com.acme.billing.ChargeDelegate"', "ChargeDelegate"),
        ('camunda:expression="${billing.charge(amount, execution)}"', "billing.charge"),
        ('activiti:delegateExpression="${archiveService}"', "archiveService"),
    ],
)
def test_java_delegates_become_external_tasks_on_the_topic_they_name(ctx, attribute, topic):
    """Camunda 7 (and Activiti) Java delegates: a worker on the bean's or class's topic does the work."""
    task = f'<bpmn:sendTask id="call" name="Charge" {attribute}/>'
    bpmn = with_ns(linear((task, "call")), CAMUNDA, 'xmlns:activiti="http://activiti.org/bpmn"')
    deployments.deploy(ctx, ADMIN, [source("x.bpmn", bpmn)])
    started = instances.start(ctx, BOT, "p1", variables={"amount": 5})
    [locked] = fetch(ctx, topic)
    assert locked.element_id == "call" and locked.topic == topic
    et.complete(ctx, WORKER, locked.id, "w1", {"charged": True})
    view = instances.get(ctx, ADMIN, started.id)
    assert view.status == "completed" and view.variables["charged"] is True
    assert path(ctx, started.id) == ["start", "call", "end"]


@pytest.mark.skipif(not (MIWG / "C.1.0.bpmn").exists(), reason="MIWG corpus not beside the checkout")
def test_miwg_invoice_java_delegate_is_an_external_task(ctx):
    """C.1.0 (Activiti / Camunda 7) archives invoices with the bean #{archiveService}: topic archiveService."""
    deployed = deployments.deploy(ctx, ADMIN, [source("C.1.0.bpmn", (MIWG / "C.1.0.bpmn").read_bytes())])
    assert "bpmn-miwg-test-case-c.1.0" in {d.key for d in deployed.definitions}


def test_a_parallel_multi_instance_external_task_hands_each_worker_its_element(ctx):
    deploy_model(ctx, "pmoflow_multi_instance.bpmn")
    view = instances.start(ctx, BOT, "notify_all", variables={"people": ["ann", "bob", "cy"]})
    got = fetch(ctx, "notify")
    assert sorted(t.variables["person"] for t in got) == ["ann", "bob", "cy"]
    for task in got:
        et.complete(ctx, WORKER, task.id, "w1", {f"sent_{task.variables['person']}": True})
    detail = instances.get(ctx, ADMIN, view.id)
    assert detail.status == "completed"
    assert {k for k in detail.variables if k.startswith("sent_")} == {"sent_ann", "sent_bob", "sent_cy"}
    assert path(ctx, view.id)[0] == "start" and path(ctx, view.id)[-1] == "end"
    assert path(ctx, view.id).count("notify") >= 3


def test_the_shipped_example_runs_with_workers(ctx):
    example = Path(__file__).resolve().parents[3] / "workflows" / "examples" / "project-onboarding-systems.bpmn"
    deployments.deploy(ctx, ADMIN, [source(example.name, example.read_bytes())])
    view = instances.start(ctx, BOT, "project-onboarding-systems")
    for topic in ("git-admin", "erp-budget"):
        [task] = fetch(ctx, topic)
        et.complete(ctx, WORKER, task.id, "w1")
    assert instances.get(ctx, ADMIN, view.id).status == "completed"
    assert path(ctx, view.id)[-2:] == ["join", "end"]
