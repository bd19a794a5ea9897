"""Bulk claim, give back and reassign from the inbox's checkboxes. Registered on the tasklist blueprint."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue

from engine.core.errors import InvalidInput
from engine.lists.saved_views import normalise
from engine.tasks import bulk as service
from webui.errors import field_errors, status_of
from webui.security import actor, engine_ctx, requires
from webui.tasklist import bp


@bp.post("/tasks/bulk")
@requires("task.delegate")  # the roles that work on tasks (auditors read them)
def bulk() -> ResponseReturnValue:
    """Apply the chosen action to each selected task and show what became of each (refusals with their status)."""
    form = request.form
    action = form.get("action", "")
    back = _back(form.get("back", ""))
    try:
        outcomes = service.bulk_action(
            engine_ctx(), actor(), action, form.getlist("task"), form.get("to", ""), form.get("reason", "")
        )
    except InvalidInput as err:
        return render_template(
            "tasklist/bulk.html", outcomes=[], errors=field_errors(err), message=err.message, back=back, action=action
        ), status_of(err)
    rows = [
        {"o": o, "status": status_of(o.error) if o.error else None, "url": url_for("tasklist.task", task_id=o.task_id)}
        for o in outcomes
    ]
    return render_template(
        "tasklist/bulk.html", outcomes=rows, errors={}, message=None, back=back, action=action, labels=service.ACTIONS
    )


def _back(query: str) -> str:
    """The inbox with the filter the selection was made in (a query string only, never another address)."""
    try:
        text = normalise(query)
    except InvalidInput:
        text = ""
    return url_for("tasklist.inbox") + (f"?{text}" if text else "")
