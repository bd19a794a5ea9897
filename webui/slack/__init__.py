"""Slack's endpoints: the interaction and slash command request URLs of the Slack app, and the page where a
signed-in user confirms a one-time link that connects their Slack account.

The two request URLs are authenticated by Slack's signature, not by a session or a token: the raw body
is verified (engine.integration.slack.verification) before anything is read from it, so they are exempt
from CSRF (Slack posts no token; the signature is what proves the sender). Their errors answer JSON.
"""

from __future__ import annotations

from flask import Blueprint, Flask, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from engine.integration.slack import commands, interactions, verification
from engine.slack import accounts
from webui.errors import json_view
from webui.extensions import csrf
from webui.security import actor, engine_ctx, requires

bp = Blueprint("slack", __name__, template_folder="templates")


def _verified() -> dict[str, str]:
    """The form of a request Slack signed; raises NotFound, Unauthenticated, InvalidInput."""
    ctx = engine_ctx()
    return verification.verified_form(
        ctx.settings,
        ctx.clock,
        request.get_data(cache=True, as_text=False, parse_form_data=False),
        request.headers.get("X-Slack-Request-Timestamp"),
        request.headers.get("X-Slack-Signature"),
    )


@bp.post("/slack/interactions")
@json_view
def interaction() -> ResponseReturnValue:
    """Slack's interactivity request URL: button clicks and the reject dialog."""
    answer = interactions.interaction(engine_ctx(), _verified())
    return ("", 200) if answer.body is None else jsonify(answer.body)


@bp.post("/slack/commands")
@json_view
def command() -> ResponseReturnValue:
    """Slack's slash command request URL for `/pmoflow`."""
    return jsonify(commands.command(engine_ctx(), _verified()))


@bp.route("/slack/link/<token>", methods=["GET", "POST"])
@requires("notification.settings_own")
def link(token: str) -> ResponseReturnValue:
    """Confirm that the Slack user who asked for this link is you (POST); the page shows whom it connects."""
    ctx = engine_ctx()
    if request.method == "POST":
        offer = accounts.confirm_link(ctx, actor(), token)
        flash(f"Connected: Slack user {offer.slack_name or offer.slack_user_id} acts as you in Slack now.", "info")
        return redirect(url_for("account.notification_settings"))
    return render_template("slack/link.html", offer=accounts.link_offer(ctx, actor(), token), token=token)


def init_app(app: Flask) -> None:
    """Register the blueprint; the two Slack request URLs are signed by Slack, so CSRF does not apply."""
    app.register_blueprint(bp)
    csrf.exempt(interaction)
    csrf.exempt(command)
