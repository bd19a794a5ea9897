"""The task page's side forms: delegate or reassign, comment, attach. Registered on the tasklist blueprint."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from engine.core.errors import Conflict, InvalidInput
from engine.tasks import collaboration
from webui.collaboration import attachment_from_form, comment_from_form, mentions
from webui.errors import field_errors
from webui.security import actor, engine_ctx, requires
from webui.tasklist import bp, render_task

bp.add_app_template_filter(mentions, "mentions")  # the discussion's @mentions, on every page that shows one


@bp.post("/tasks/<task_id>/delegate")
@requires("task.delegate")
def delegate(task_id: str) -> ResponseReturnValue:
    return _hand_over(task_id, collaboration.delegate, "delegate")


@bp.post("/tasks/<task_id>/reassign")
@requires("task.delegate")
def reassign(task_id: str) -> ResponseReturnValue:
    return _hand_over(task_id, collaboration.reassign, "reassign")


def _hand_over(task_id: str, change: Any, mode: str) -> ResponseReturnValue:
    form = request.form
    try:
        view = change(engine_ctx(), actor(), task_id, form.get("to", ""), form.get("reason", ""))
    except InvalidInput as err:
        panel = {"form": "hand_over", "errors": field_errors(err, general="to"), "values": form.to_dict()}
        return render_task(task_id, {}, {}, 422, panel=panel)
    except Conflict as err:
        flash(err.message, "error")
        return redirect(url_for("tasklist.task", task_id=task_id))
    to = form.get("to", "").strip()
    away = f"{to} is away, so their substitute has it: " if view.assignee != to else ""
    if mode == "delegate":
        owner = "your" if view.owner == actor().username else f"{view.owner}'s"
        flash(
            f"{away}Delegated to {view.assignee}, who completes it on {owner} behalf."
            if view.owner
            else f"The task is back with {view.assignee}.",
            "info",
        )
        return redirect(url_for("tasklist.task", task_id=task_id))
    flash(f"{away}Reassigned to {view.assignee}.", "info")
    if view.assignee == actor().username:
        return redirect(url_for("tasklist.task", task_id=task_id))
    return redirect(url_for("tasklist.inbox"))


@bp.post("/tasks/<task_id>/comments")
@requires("comment.add")
def comment(task_id: str) -> ResponseReturnValue:
    panel = comment_from_form(task_id=task_id)
    if panel is not None:
        return render_task(task_id, {}, {}, 422, panel=panel)
    return redirect(url_for("tasklist.task", task_id=task_id, _anchor="comments"))


@bp.post("/tasks/<task_id>/attachments")
@requires("attachment.add")
def attach(task_id: str) -> ResponseReturnValue:
    panel = attachment_from_form(task_id=task_id)
    if panel is not None:
        return render_task(task_id, {}, {}, 422, panel=panel)
    return redirect(url_for("tasklist.task", task_id=task_id, _anchor="attachments"))
