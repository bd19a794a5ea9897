"""MIWG reference models run past their start: the XPath conditions of C.1.1 and the unconditioned gateway flows of
C.3.0 take the path the model means (element ids from the audit trail)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.permissions import Actor
from engine.definitions import deployments
from engine.integration import external_tasks as et
from engine.runtime import instances
from engine.spiff.model.parsing import SourceFile
from engine.tasks import completion
from tests.designer.miwg import CORPUS
from tests.factories import ADMIN, BOT

pytestmark = pytest.mark.skipif(not (CORPUS / "C.1.1.bpmn").exists(), reason="the MIWG corpus is not here")
WORKER = Actor("archive-bot", roles=frozenset({"external-worker"}))


def deploy(ctx, name: str) -> None:
    deployments.deploy(ctx, ADMIN, [SourceFile(name, (CORPUS / name).read_bytes())], None)


def path(ctx, instance_id: str) -> list[str]:
    return [e.element_id for e in instances.audit_trail(ctx, ADMIN, instance_id) if e.type == "element_completed"]


def finish(ctx, instance_id: str, element: str, data: dict) -> None:
    [task] = [t for t in instances.get(ctx, ADMIN, instance_id).open_tasks if t.element_id == element]
    completion.complete(ctx, ADMIN, task.id, data)


def test_c11_invoice_runs_its_xpath_conditions_and_java_delegate_to_the_end(ctx):
    deploy(ctx, "C.1.1.bpmn")
    view = instances.start(ctx, BOT, "handle-invoice")
    finish(ctx, view.id, "assignApprover", {"approver": "demo"})
    finish(ctx, view.id, "approveInvoice", {"approved": False})  # not(bpmn:getDataObject('approved'))
    finish(ctx, view.id, "reviewInvoice", {"clarified": "yes"})  # bpmn:getDataObject('clarified') = 'yes'
    finish(ctx, view.id, "approveInvoice", {"approved": True})
    finish(ctx, view.id, "prepareBankTransfer", {})
    [archive] = et.fetch_and_lock(ctx, WORKER, "w1", 1, [et.TopicRequest("archiveService", 60_000, None)])
    et.complete(ctx, WORKER, archive.id, "w1", {})
    assert instances.get(ctx, ADMIN, view.id).status == "completed"
    assert path(ctx, view.id) == [
        "StartEvent_1",
        "assignApprover",
        "approveInvoice",
        "invoice_approved",
        "reviewInvoice",
        "reviewSuccessful_gw",
        "approveInvoice",
        "invoice_approved",
        "prepareBankTransfer",
        "archiveInvoice",
        "invoiceProcessed",
    ]


def test_c30_unconditioned_flows_take_the_first_in_document_order(ctx):
    """C.3.0 starts with a message start event: the start request is that message (nothing waits for it)."""
    deploy(ctx, "C.3.0.bpmn")
    view = instances.start(ctx, BOT, "_8170787a-3207-434d-9bea-4787059f444f")
    finish(ctx, view.id, "_c73a5f4a-72f1-4e11-bb40-2f98da75fb9a", {})  # Analyse customer request
    finish(ctx, view.id, "_a92069f7-377b-4dbd-a1fd-1da071aabf6d", {})  # Replace fridge (Warranty: first flow)
    got = instances.get(ctx, ADMIN, view.id)
    assert got.status == "completed"
    assert path(ctx, view.id) == [
        "_cc9778bd-edd8-4df2-ba15-56c310f90e62",
        "_c73a5f4a-72f1-4e11-bb40-2f98da75fb9a",
        "_604be023-654c-44df-a64c-365254a100cd",
        "_a92069f7-377b-4dbd-a1fd-1da071aabf6d",
        "_177bd313-c6c9-4df5-8f82-313beb30d2eb",
    ]


def test_c9_onboarding_runs_the_decision_published_before_into_the_manual_check(ctx):
    """C.9.0 (Camunda 8): its start event's output sets documentReferenceId, the credit score is an external task,
    risk_check (deployed on its own before) flags a yellow risk, and the call activity into C.9.2 waits for a clerk."""
    dmn = Path(__file__).resolve().parents[2] / "models" / "miwg" / "risk_check.dmn"
    deployments.deploy(ctx, ADMIN, [SourceFile(dmn.name, dmn.read_bytes())], None)
    deployments.deploy(
        ctx, ADMIN, [SourceFile(n, (CORPUS / n).read_bytes()) for n in ("C.9.0.bpmn", "C.9.1.bpmn", "C.9.2.bpmn")], None
    )
    view = instances.start(
        ctx,
        BOT,
        "customer_onboarding_en",
        variables={"applicant": {"name": "Ann", "email": "ann@example.com", "age": 30}, "corporation": "Acme"},
    )
    [score] = et.fetch_and_lock(ctx, WORKER, "w1", 1, [et.TopicRequest("calculateScore", 60_000, None)])
    et.complete(ctx, WORKER, score.id, "w1", {"score": 400})
    got = instances.get(ctx, ADMIN, view.id)
    assert got.status == "running" and got.error is None
    assert [t.element_id for t in got.open_tasks] == ["UserTask_DecideOnApplication"]
    assert path(ctx, view.id) == [
        "StartEvent_ApplicationReceived",
        "ServiceTask_GetCreditScore",
        "BusinessRuleTask_CheckApplicationAutomatically",
        "ExclusiveGateway_Risk",
        "StartEvent_DecideManually",
    ]
    assert got.variables["riskLevels"] == ["yellow"] and got.variables["risks"] == ["low credit score"]
    assert got.variables["documentReferenceId"]  # = string(now()), from the start event
