"""The signed-in user's own settings: out of office (a substitute for a date range), email and chat notifications."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from engine.core.errors import InvalidInput
from engine.notify import preferences
from engine.tasks import collaboration
from webui.errors import field_errors, status_of
from webui.security import actor, engine_ctx, requires

bp = Blueprint("account", __name__, template_folder="templates")


@bp.route("/account/out-of-office", methods=["GET", "POST"])
@requires("substitute.set_own")
def out_of_office() -> ResponseReturnValue:
    ctx = engine_ctx()
    if request.method == "POST":
        if request.form.get("action") == "clear":
            ended = collaboration.clear_out_of_office(ctx, actor())
            flash("You are back: new tasks come to you again." if ended else "You had no absence set.", "info")
            return redirect(url_for("account.out_of_office"))
        try:
            absence = collaboration.set_out_of_office(
                ctx,
                actor(),
                request.form.get("substitute", ""),
                request.form.get("starts_on"),
                request.form.get("ends_on"),
            )
        except InvalidInput as err:
            page = collaboration.out_of_office(ctx, actor())
            return render_template(
                "account/out_of_office.html",
                page=page,
                values=request.form.to_dict(),
                errors=field_errors(err),
                today=ctx.clock.now().date(),
            ), status_of(err)
        flash(
            f"Saved: from {absence.starts_on:%d %b %Y} to {absence.ends_on:%d %b %Y}, new tasks for you go to "
            f"{absence.substitute}.",
            "info",
        )
        return redirect(url_for("account.out_of_office"))
    page = collaboration.out_of_office(ctx, actor())
    return render_template("account/out_of_office.html", page=page, values={}, errors={}, today=ctx.clock.now().date())


@bp.route("/account/notifications", methods=["GET", "POST"])
@requires("notification.settings_own")
def notification_settings() -> ResponseReturnValue:
    ctx = engine_ctx()
    if request.method == "POST":
        choices = {kind: request.form.getlist(kind) for kind in preferences.KINDS}
        webhooks: dict[str, str | None] = {}
        for channel in ("slack", "teams"):
            if request.form.get(f"remove_{channel}"):
                webhooks[channel] = ""
            elif request.form.get(f"{channel}_webhook", "").strip():
                webhooks[channel] = request.form[f"{channel}_webhook"]
        try:
            preferences.save_preferences(ctx, actor(), choices, webhooks)
        except InvalidInput as err:
            page = preferences.preferences(ctx, actor())
            chosen = {kind: set(wanted) for kind, wanted in choices.items()}
            return render_template(
                "account/notifications.html",
                page=page,
                chosen=chosen,
                errors=field_errors(err),
                values=request.form.to_dict(),
                channels=preferences.CHANNEL_LABELS,
            ), status_of(err)
        flash("Saved your notification settings.", "info")
        return redirect(url_for("account.notification_settings"))
    page = preferences.preferences(ctx, actor())
    chosen = {k.name: set(k.channels) for k in page.kinds}
    return render_template(
        "account/notifications.html",
        page=page,
        chosen=chosen,
        errors={},
        values={},
        channels=preferences.CHANNEL_LABELS,
    )
