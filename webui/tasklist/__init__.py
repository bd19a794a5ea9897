"""The approver's tasklist: the inbox and the task page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from engine.core import bounds
from engine.core.context import EngineContext
from engine.core.errors import Conflict, Forbidden, FormDataInvalid, InvalidInput
from engine.core.permissions import Actor
from engine.forms.components import form_fields, form_layout
from engine.requester import portal as requests
from engine.tasks import claims, completion
from engine.tasks import collaboration as collaboration_service
from engine.tasks import inbox as tasks
from webui.collaboration import no_panel
from webui.errors import status_of
from webui.security import actor, engine_ctx, requires

bp = Blueprint("tasklist", __name__, template_folder="templates")

DUE_CHOICES = {"": "Any time", "overdue": "Overdue", "today": "Due within a day", "week": "Due within a week"}
SCOPES = {"all": "Mine and my groups'", "mine": "Assigned to me", "groups": "Unassigned, my groups"}
SORTS = {
    "due": "Due date",
    "priority": "Priority",
    "created": "Oldest first",
    "name": "Task name",
    "process": "Process",
}
# the inbox's built-in views (label, query string), shown before the saved and shared ones
BUILTIN_VIEWS = [
    ("All my work", ""),
    ("Assigned to me", "scope=mine"),
    ("My groups, unassigned", "scope=groups"),
    ("Due this week", "due=week"),
    ("Overdue", "due=overdue"),
    ("By process", "sort=process"),
]


def _filter_from(args: MultiDict[str, str]) -> tasks.InboxFilter:
    def text(name: str) -> str | None:
        value = args.get(name, "").strip()
        return value or None

    page = bounds.page_number(args.get("page"))
    return tasks.InboxFilter(
        scope=args.get("scope", "all") if args.get("scope") in SCOPES else "all",
        process=text("process"),
        role=text("role"),
        due=args.get("due") if args.get("due") in DUE_CHOICES else None,
        search=text("q"),
        sort=args.get("sort", "due") if args.get("sort") in SORTS else "due",
        page=page,
    )


@bp.get("/tasks")
@requires("task.read_own")
def inbox() -> ResponseReturnValue:
    flt = _filter_from(request.args)
    ctx, me = engine_ctx(), actor()
    page = tasks.inbox(ctx, me, flt)
    if request.args.get("partial"):
        return render_template("tasklist/_rows.html", page=page, flt=flt, now=ctx.clock.now())
    return render_template(
        "tasklist/inbox.html",
        page=page,
        flt=flt,
        choices=tasks.inbox_choices(ctx, me),
        people=collaboration_service.people(ctx, me),
        due_choices=DUE_CHOICES,
        scopes=SCOPES,
        sorts=SORTS,
        builtin_views=BUILTIN_VIEWS,
        now=engine_ctx().clock.now(),
        args=request.args,
    )


@bp.get("/tasks/done")
@requires("task.read_own")
def done() -> ResponseReturnValue:
    """The tasks the signed-in user completed, the latest first, with their decisions."""
    page = tasks.done_by_me(engine_ctx(), actor(), bounds.page_number(request.args.get("page")))
    return render_template("tasklist/done.html", page=page)


@bp.get("/tasks/<task_id>")
@requires("task.read_own")
def task(task_id: str) -> ResponseReturnValue:
    return render_task(task_id, {}, {})


def render_task(
    task_id: str, values: dict[str, Any], errors: dict[str, str], status: int = 200, panel: dict[str, Any] | None = None
) -> ResponseReturnValue:
    """The task page; `panel` carries the values and errors of a side form (comment, attachment, hand-over)."""
    context = completion.task_context(engine_ctx(), actor(), task_id)
    workspace = requests.task_workspace(engine_ctx(), actor(), task_id)
    schema = context.task.form or {}
    return render_template(
        "tasklist/task.html",
        c=context,
        fields=form_layout(schema) if schema else [],
        values=values,
        errors=errors,
        now=engine_ctx().clock.now(),
        w=workspace,
        picker_users=context.users,
        people=collaboration_service.people(engine_ctx(), actor()),
        panel=panel or no_panel(),
    ), status


@bp.post("/tasks/<task_id>")
@requires("task.read_own")
def complete(task_id: str) -> ResponseReturnValue:
    ctx = engine_ctx()
    context = completion.task_context(ctx, actor(), task_id)
    data = form_data(context.task.form or {}, request.form)
    files = {
        f["key"]: (upload.filename or "upload", upload.read())
        for f in form_fields(context.task.form or {})
        if f.get("type") == "filepicker" and (upload := request.files.get(f["key"])) is not None and upload.filename
    }
    try:
        completion.complete(ctx, actor(), task_id, data, files)
    except FormDataInvalid as err:
        return render_task(task_id, dict(request.form), err.errors, 422)
    except (InvalidInput, Forbidden) as err:
        return render_task(task_id, dict(request.form), {"_": err.message}, status_of(err))
    except Conflict as err:
        flash(f"Not saved: {err.message}. Someone else was faster.", "error")
        return redirect(url_for("tasklist.inbox"))
    flash(
        f"Done: {context.task.name}" + (f" ({context.task.business_key})" if context.task.business_key else ""), "info"
    )
    return redirect(url_for("tasklist.inbox"))


def form_data(schema: dict[str, Any], form: MultiDict[str, str]) -> dict[str, Any]:
    """Turn posted form fields into typed task data for the form's fields (the server validates it)."""
    data: dict[str, Any] = {}
    for field in form_fields(schema):
        key = field.get("key")
        if not isinstance(key, str) or field.get("disabled") or field.get("readonly"):
            continue
        kind = field.get("type")
        if kind == "filepicker":
            continue  # sent as files
        if kind == "checkbox":
            data[key] = form.get(key) in ("on", "true", "1")
        elif kind in ("checklist", "taglist"):
            data[key] = form.getlist(key)
        elif (value := form.get(key, "").strip()) != "":
            data[key] = value
    return data


@bp.post("/tasks/<task_id>/claim")
@requires("task.read_own")
def claim(task_id: str) -> ResponseReturnValue:
    return _assign(task_id, claims.claim, "You took the task.")


@bp.post("/tasks/<task_id>/unclaim")
@requires("task.read_own")
def unclaim(task_id: str) -> ResponseReturnValue:
    return _assign(task_id, claims.unclaim, "The task is back with its groups.")


def _assign(task_id: str, change: Callable[[EngineContext, Actor, str], object], message: str) -> ResponseReturnValue:
    try:
        change(engine_ctx(), actor(), task_id)
    except Conflict as err:
        flash(err.message, "error")
    else:
        flash(message, "info")
    return redirect(url_for("tasklist.task", task_id=task_id))


from webui.tasklist import bulk, collaboration  # noqa: E402, F401 - registers the side forms and bulk actions on bp
