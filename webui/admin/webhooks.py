"""Administration > Webhooks: subscriptions of systems to events, their delivery log, redelivery (role admin)."""

from __future__ import annotations

from typing import Any

from flask import flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from engine.core.errors import Conflict, InvalidInput
from engine.integration import webhooks
from webui.admin import bp
from webui.errors import field_errors, status_of
from webui.security import actor, engine_ctx, requires


def _values() -> dict[str, Any]:
    form = request.form
    return {
        "url": form.get("url", ""),
        "description": form.get("description", ""),
        "event_types": form.getlist("event_types")
        + [t for t in form.get("other_types", "").replace(",", " ").split() if t],
        "other_types": form.get("other_types", ""),
        "active": bool(form.get("active")),
    }


def _list_page(
    status: int = 200, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None
) -> ResponseReturnValue:
    return render_template(
        "admin/webhooks.html",
        rows=webhooks.list_subscriptions(engine_ctx(), actor()),
        values=values or {"event_types": ["*"], "active": True},
        errors=errors or {},
        known=webhooks.KNOWN_EVENT_TYPES,
    ), status


def _secret_page(issued: webhooks.IssuedSecret, status: int, created: bool) -> ResponseReturnValue:
    # The secret is in this one response only: never in a redirect, the session or a flash message.
    response = make_response(render_template("admin/webhook_secret.html", issued=issued, created=created), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/webhooks")
@requires("webhook.manage")
def webhook_list() -> ResponseReturnValue:
    return _list_page()


@bp.post("/webhooks")
@requires("webhook.manage")
def webhook_create() -> ResponseReturnValue:
    values = _values()
    try:
        issued = webhooks.create_subscription(
            engine_ctx(), actor(), values["url"], values["event_types"], values["description"], values["active"]
        )
    except InvalidInput as err:
        return _list_page(status_of(err), values, field_errors(err))
    return _secret_page(issued, 201, created=True)


def _detail_page(
    webhook_id: str, status: int = 200, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None
) -> ResponseReturnValue:
    sub = webhooks.get_subscription(engine_ctx(), actor(), webhook_id)
    deliveries = webhooks.list_deliveries(engine_ctx(), actor(), webhook_id)
    if values is None:
        known = set(webhooks.KNOWN_EVENT_TYPES) | {"*"}
        values = {
            "url": sub.url,
            "description": sub.description,
            "active": sub.active,
            "event_types": sub.event_types,
            "other_types": " ".join(t for t in sub.event_types if t not in known),
        }
    return render_template(
        "admin/webhook.html",
        s=sub,
        deliveries=deliveries,
        values=values,
        errors=errors or {},
        known=webhooks.KNOWN_EVENT_TYPES,
    ), status


@bp.get("/webhooks/<webhook_id>")
@requires("webhook.manage")
def webhook(webhook_id: str) -> ResponseReturnValue:
    return _detail_page(webhook_id)


@bp.post("/webhooks/<webhook_id>")
@requires("webhook.manage")
def webhook_update(webhook_id: str) -> ResponseReturnValue:
    values = _values()
    try:
        webhooks.update_subscription(
            engine_ctx(),
            actor(),
            webhook_id,
            url=values["url"],
            event_types=values["event_types"],
            description=values["description"],
            active=values["active"],
        )
    except InvalidInput as err:
        return _detail_page(webhook_id, status_of(err), values, field_errors(err))
    flash("Webhook saved.", "info")
    return redirect(url_for("admin.webhook", webhook_id=webhook_id))


@bp.post("/webhooks/<webhook_id>/rotate")
@requires("webhook.manage")
def webhook_rotate(webhook_id: str) -> ResponseReturnValue:
    issued = webhooks.rotate_secret(engine_ctx(), actor(), webhook_id)
    return _secret_page(issued, 200, created=False)


@bp.post("/webhooks/<webhook_id>/delete")
@requires("webhook.manage")
def webhook_delete(webhook_id: str) -> ResponseReturnValue:
    webhooks.delete_subscription(engine_ctx(), actor(), webhook_id)
    flash("Webhook deleted with its delivery log.", "info")
    return redirect(url_for("admin.webhook_list"))


@bp.get("/webhooks/<webhook_id>/deliveries/<delivery_id>")
@requires("webhook.manage")
def webhook_delivery(webhook_id: str, delivery_id: str) -> ResponseReturnValue:
    sub = webhooks.get_subscription(engine_ctx(), actor(), webhook_id)
    detail = webhooks.get_delivery(engine_ctx(), actor(), delivery_id, webhook_id)
    return render_template("admin/webhook_delivery.html", s=sub, d=detail)


@bp.post("/webhooks/<webhook_id>/deliveries/<delivery_id>/redeliver")
@requires("webhook.manage")
def webhook_redeliver(webhook_id: str, delivery_id: str) -> ResponseReturnValue:
    try:
        webhooks.redeliver(engine_ctx(), actor(), delivery_id, webhook_id)
    except Conflict as err:
        flash(err.message, "error")
    else:
        flash("Queued to be sent again now.", "info")
    if request.form.get("back") == "delivery":
        return redirect(url_for("admin.webhook_delivery", webhook_id=webhook_id, delivery_id=delivery_id))
    return redirect(url_for("admin.webhook", webhook_id=webhook_id))
