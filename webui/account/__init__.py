"""The signed-in user's own settings: out of office (a substitute for a date range)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from engine import collaboration
from engine.errors import InvalidInput
from webui.security import actor, engine_ctx, requires

bp = Blueprint("account", __name__, template_folder="templates")


@bp.route("/account/out-of-office", methods=["GET", "POST"])
@requires("substitute.set_own")
def out_of_office():  # type: ignore[no-untyped-def]
    ctx = engine_ctx()
    if request.method == "POST":
        if request.form.get("action") == "clear":
            ended = collaboration.clear_out_of_office(ctx, actor())
            flash("You are back: new tasks come to you again." if ended else "You had no absence set.", "info")
            return redirect(url_for("account.out_of_office"))
        try:
            absence = collaboration.set_out_of_office(ctx, actor(), request.form.get("substitute", ""),
                                                      request.form.get("starts_on"), request.form.get("ends_on"))
        except InvalidInput as err:
            fields = err.details.get("fields", {}) if isinstance(err.details, dict) else {}
            page = collaboration.out_of_office(ctx, actor())
            return render_template("account/out_of_office.html", page=page, values=request.form.to_dict(),
                                   errors=fields, today=ctx.clock.now().date()), 422
        flash(f"Saved: from {absence.starts_on:%d %b %Y} to {absence.ends_on:%d %b %Y}, new tasks for you go to "
              f"{absence.substitute}.", "info")
        return redirect(url_for("account.out_of_office"))
    page = collaboration.out_of_office(ctx, actor())
    return render_template("account/out_of_office.html", page=page, values={}, errors={},
                           today=ctx.clock.now().date())
