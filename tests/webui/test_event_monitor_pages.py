"""The monitor and audit pages of instances that went through boundary, signal, link, conditional and
error events render, naming those elements (tests/models/events)."""

from __future__ import annotations

from pathlib import Path

from engine.definitions import deployments
from engine.monitoring import instances as monitoring
from engine.runtime import instances, signals
from engine.spiff.model.parsing import SourceFile
from tests.factories import ADMIN, BOT

MODELS = Path(__file__).resolve().parent.parent / "models" / "events"


def test_instance_pages_render_with_event_elements(app, browser_of):
    ctx = app.extensions["pmoflow"]
    deployments.deploy(ctx, ADMIN, [SourceFile(p.name, p.read_bytes()) for p in sorted(MODELS.glob("*.bpmn"))])
    shown = {
        instances.start(ctx, BOT, "ev_link_terminate").id: ["Link_Out", "Link_In", "Terminate"],
        instances.start(ctx, BOT, "ev_uncaught_error").id: ["Fail", "Budget exceeded"],
    }
    waiting = instances.start(ctx, BOT, "ev_boundary_msg_signal").id
    signals.send(ctx, ADMIN, "ping")
    shown[waiting] = ["Pinged", "Note_Ping"]
    conditional = instances.start(ctx, BOT, "ev_boundary_conditional", variables={"budget": 1, "escalate": False}).id
    monitoring.edit_variables(ctx, ADMIN, conditional, {"escalate": True}, [], "escalate")
    shown[conditional] = ["Escalated"]
    shown[instances.start(ctx, BOT, "ev_subprocess_error", variables={"problem": "stock"}).id] = [
        "Throw_Stock",
        "Caught_Stock",
        "Backorder",
    ]
    esp = instances.start(ctx, BOT, "ev_event_subprocesses", variables={"withdrawn": False}).id
    signals.send(ctx, ADMIN, "audit_now")
    shown[esp] = ["Signal_Start", "On_Signal", "Work"]
    pmo = browser_of("pmo")
    for instance_id, elements in shown.items():
        for url in (f"/monitor/instances/{instance_id}", f"/audit/instances/{instance_id}"):
            page = pmo.get(url)
            assert page.status_code == 200, url
            text = page.get_data(as_text=True)
            assert all(e in text for e in elements), (url, elements)
