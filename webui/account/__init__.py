"""The signed-in user's own settings: out of office (a substitute for a date range), email and chat notifications,
and their signed-in sessions (sign out one, or everywhere)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, logout_user

from engine.admin import sessions
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
        if away := collaboration.out_of_office(ctx, actor()).away.get(absence.substitute):
            flash(
                f"Note: {away.username} is away too, until {away.until:%d %b %Y}"
                + (f"; meanwhile your tasks go on to {away.receiver}." if away.receiver != away.username else "."),
                "error",
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
        digest_channels = request.form.getlist("digest_channels")
        enabled = request.form.get("digest_enabled") == "1"
        digest: dict[str, object] = {"enabled": enabled}  # what the form leaves empty is kept
        if enabled or request.form.get("digest_time"):
            digest["time"] = request.form.get("digest_time", "")
        if "digest_zone" in request.form:
            digest["zone"] = request.form["digest_zone"]
        if enabled or digest_channels:
            digest["channels"] = digest_channels
        webhooks: dict[str, str | None] = {}
        for channel in ("slack", "teams"):
            if request.form.get(f"remove_{channel}"):
                webhooks[channel] = ""
            elif request.form.get(f"{channel}_webhook", "").strip():
                webhooks[channel] = request.form[f"{channel}_webhook"]
        try:
            preferences.save_preferences(ctx, actor(), choices, webhooks, digest)
        except InvalidInput as err:
            page = preferences.preferences(ctx, actor())
            chosen = {kind: set(wanted) for kind, wanted in choices.items()}
            chosen["digest"] = set(digest_channels)
            return render_template(
                "account/notifications.html",
                page=page,
                chosen=chosen,
                errors=field_errors(err),
                values=request.form.to_dict() | {"digest_enabled": enabled},
                **_choices(),
            ), status_of(err)
        flash("Saved your notification settings.", "info")
        return redirect(url_for("account.notification_settings"))
    page = preferences.preferences(ctx, actor())
    chosen = {k.name: set(k.channels) for k in page.kinds} | {"digest": set(page.digest.channels)}
    values = {
        "digest_time": page.digest.time,
        "digest_zone": page.digest.zone or "",
        "digest_enabled": page.digest.enabled,
    }
    return render_template(
        "account/notifications.html", page=page, chosen=chosen, errors={}, values=values, **_choices()
    )


def _choices() -> dict[str, object]:
    """The settings page's columns: every channel, the ones each kind offers, the digest's."""
    return {
        "channels": preferences.CHANNEL_LABELS,
        "offered": {k.name: k.offered for k in preferences.KINDS.values()},
        "digest_channels": {c: preferences.CHANNEL_LABELS[c] for c in preferences.CHANNELS},
    }


@bp.route("/account/sessions", methods=["GET", "POST"])
@login_required
def signed_in_sessions() -> ResponseReturnValue:
    """Where one is signed in; "sign out everywhere" ends them all, this one too (on every process at once)."""
    ctx = engine_ctx()
    me = actor().username
    if request.method == "POST":
        chosen = request.form.get("session") or None
        sessions.end_sessions(ctx, me, actor=me, session_id=chosen)
        if chosen is None or chosen == current_user.session_id:
            logout_user()
            flash("You are signed out everywhere." if chosen is None else "You are signed out.", "info")
            return redirect(url_for("auth.login"))
        flash("That session is signed out.", "info")
        return redirect(url_for("account.signed_in_sessions"))
    rows = sessions.live_sessions(ctx, me, current_user.session_id)
    return render_template("account/sessions.html", rows=rows)
