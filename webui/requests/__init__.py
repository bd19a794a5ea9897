"""The requester's pages: my requests, one request (history, comments, attachments), starting one."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from engine.core import bounds, outcomes
from engine.core.errors import InvalidInput
from engine.forms.components import form_layout
from engine.requester import attachments, watchers
from engine.requester import portal as requests
from webui.collaboration import attachment_from_form, comment_from_form, no_panel
from webui.errors import field_errors, status_of
from webui.security import actor, engine_ctx, requires
from webui.tasklist import form_data

bp = Blueprint("requests", __name__, template_folder="templates")

STATUS_TEXT = dict(outcomes.STATUS_LABELS)
# The tabs of My requests: where a request is (its status) while open, what it came to (its outcome) after.
TABS = (
    ("status", "running"),
    ("status", "error"),
    ("outcome", outcomes.APPROVED),
    ("outcome", outcomes.REJECTED),
    ("outcome", outcomes.COMPLETED),
    ("outcome", outcomes.CANCELLED),
    ("outcome", outcomes.FAILED),
)


# ---------------------------------------------------------------- pages


@bp.get("/requests")
@requires("instance.read_own")
def mine() -> ResponseReturnValue:
    status = request.args.get("status") if request.args.get("status") in STATUS_TEXT else None
    outcome = request.args.get("outcome") if request.args.get("outcome") in outcomes.OUTCOMES else None
    page_no = bounds.page_number(request.args.get("page"))
    page = requests.my_requests(engine_ctx(), actor(), status=status, page=page_no, outcome=outcome)
    return render_template(
        "requests/mine.html", page=page, status=status, outcome=outcome, status_text=STATUS_TEXT, tabs=TABS
    )


@bp.get("/requests/<instance_id>")
@requires("instance.read_own")
def detail(instance_id: str) -> ResponseReturnValue:
    return _render_detail(instance_id, no_panel())


def _render_detail(instance_id: str, panel: dict[str, Any], status: int = 200) -> ResponseReturnValue:
    view = requests.request_view(engine_ctx(), actor(), instance_id)
    return render_template("requests/detail.html", d=view, status_text=STATUS_TEXT, panel=panel), status


@bp.post("/requests/<instance_id>/comments")
@requires("comment.add")
def comment(instance_id: str) -> ResponseReturnValue:
    panel = comment_from_form(instance_id=instance_id)
    if panel is not None:
        return _render_detail(instance_id, panel, 422)
    return redirect(url_for("requests.detail", instance_id=instance_id, _anchor="comments"))


@bp.post("/requests/<instance_id>/attachments")
@requires("attachment.add")
def attach(instance_id: str) -> ResponseReturnValue:
    panel = attachment_from_form(instance_id=instance_id)
    if panel is not None:
        return _render_detail(instance_id, panel, 422)
    return redirect(url_for("requests.detail", instance_id=instance_id, _anchor="attachments"))


@bp.post("/requests/<instance_id>/watch")
@requires("instance.watch")
def watch(instance_id: str) -> ResponseReturnValue:
    """Follow the request: told when it is decided, by one's chosen channels."""
    watchers.watch(engine_ctx(), actor(), instance_id)
    flash("You watch this request: you will be told when it is decided.", "info")
    return redirect(url_for("requests.detail", instance_id=instance_id))


@bp.post("/requests/<instance_id>/unwatch")
@requires("instance.watch")
def unwatch(instance_id: str) -> ResponseReturnValue:
    watchers.unwatch(engine_ctx(), actor(), instance_id)
    flash("You no longer watch this request.", "info")
    return redirect(url_for("requests.detail", instance_id=instance_id))


@bp.get("/attachments/<attachment_id>")
@requires("instance.read_own")
def download(attachment_id: str) -> ResponseReturnValue:
    doc = attachments.download(engine_ctx(), actor(), attachment_id)
    ascii_name = doc.name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    response = Response(doc.content, mimetype=doc.content_type)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(doc.name)}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/requests/new")
@requires("instance.start")
def new() -> ResponseReturnValue:
    return render_template("requests/new.html", processes=requests.startable(engine_ctx(), actor()))


@bp.route("/requests/new/<key>", methods=["GET", "POST"])
@requires("instance.start")
def start(key: str) -> ResponseReturnValue:
    ctx = engine_ctx()
    version = bounds.parameter("version", request.values.get("version"))
    form = requests.start_form(ctx, actor(), key, version)
    if request.method == "GET":
        return _render_start(form, {}, {})
    data = form_data(form.schema, request.form)
    try:
        started = requests.start_request(ctx, actor(), key, form.version, request.form.get("business_key"), data)
    except InvalidInput as err:  # FormDataInvalid included: its details name each field
        return _render_start(form, request.form.to_dict(), field_errors(err), status_of(err))
    flash(
        f"Your request is started: {form.name}" + (f" ({started.business_key})" if started.business_key else ""), "info"
    )
    return redirect(url_for("requests.detail", instance_id=started.id))


def _render_start(
    form: requests.StartForm, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> ResponseReturnValue:
    return render_template(
        "requests/start.html", form=form, fields=form_layout(form.schema), values=values, errors=errors
    ), status


# ---------------------------------------------------------------- filters for the shared partials


@bp.app_template_filter("filesize")
def filesize(size: int) -> str:
    """'820 B', '14 KB', '2.1 MB'."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"
