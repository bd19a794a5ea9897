"""The bell: the unread count in the top bar, the list of notifications, marking them read."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from engine.core import bounds
from engine.notify import bell as notifications
from engine.notify.bell import NotificationView
from engine.tasks import inbox
from webui.security import actor, engine_ctx, requires

bp = Blueprint("notifications", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    """Every signed-in page gets `topbar` (unread count, away until) and `inbox_counts` (open and overdue tasks of
    the inbox) for base.html."""

    @app.context_processor
    def _topbar() -> dict[str, Any]:
        if not current_user.is_authenticated or request.path.startswith(("/api/", "/static/")):
            return {"topbar": None, "inbox_counts": None}
        ctx, who = engine_ctx(), actor()
        return {"topbar": notifications.topbar(ctx, who), "inbox_counts": inbox.counts(ctx, who)}


def target(n: NotificationView) -> str:
    """Where a notification leads: its link, else its task, else its request, else the list."""
    if n.link and n.link.startswith("/") and not n.link.startswith("//"):
        return n.link
    if n.task_id:
        return url_for("tasklist.task", task_id=n.task_id)
    if n.instance_id:
        return url_for("requests.detail", instance_id=n.instance_id)
    return url_for("notifications.index")


@bp.get("/notifications")
@requires("notification.read")
def index() -> ResponseReturnValue:
    unread_only = request.args.get("show") == "unread"
    page_no = bounds.page_number(request.args.get("page"))
    page = notifications.list_notifications(engine_ctx(), actor(), unread_only=unread_only, page=page_no)
    return render_template("notifications/index.html", page=page, unread_only=unread_only, target=target)


@bp.post("/notifications/<notification_id>/read")
@requires("notification.read")
def read(notification_id: str) -> ResponseReturnValue:
    """Mark read; with open=1, go where the notification leads; from the list's script (a fetch), 204."""
    n = notifications.mark_read(engine_ctx(), actor(), notification_id)
    if request.headers.get("X-Requested-With") == "fetch":
        return "", 204
    if request.form.get("open"):
        return redirect(target(n))
    return redirect(url_for("notifications.index", show=request.form.get("show") or None))


@bp.post("/notifications/read-all")
@requires("notification.read")
def read_all() -> ResponseReturnValue:
    notifications.mark_all_read(engine_ctx(), actor())
    return redirect(url_for("notifications.index"))
