"""Deciding from a message: the confirmation page a signed Approve / Reject link opens (engine/notify/actions.py).

No sign-in: the link is the credential, bound to its task, recipient and action. Its GET shows the request
and a comment box and decides nothing (mail scanners follow links); only the POST from that page (with the
page's CSRF token) decides. Someone else signed in in the same browser is refused. A link that cannot be used
gets a page saying why, with its status from the one table (`status_of`), and a way to the task.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from engine.core.errors import FormDataInvalid
from engine.notify import actions
from webui.errors import status_of
from webui.security import engine_ctx

bp = Blueprint("decide", __name__, template_folder="templates")

TITLES = {
    "forged": "This link does not work",
    "disabled": "Deciding from messages is turned off",
    "expired": "This link has expired",
    "used": "This link was already used",
    "closed": "This task is already done",
    "reassigned": "This task is no longer yours to decide",
    "inactive": "This account is not active",
    "other_user": "This link is someone else's",
    "not_decision": "This task needs its page",
}


def _signed_in() -> str | None:
    return str(current_user.username) if current_user.is_authenticated else None


def _private(response: Response) -> Response:
    """The page's URL is a credential: nobody keeps or passes it on."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _refused(err: actions.LinkRefused) -> Response:
    page = render_template("decide/refused.html", title=TITLES.get(err.reason, "This link does not work"), err=err)
    return _private(Response(page, status=status_of(err)))


@bp.get("/decide/<token>")
def confirm(token: str) -> ResponseReturnValue:
    """The confirmation page; decides nothing."""
    try:
        page = actions.confirmation(engine_ctx(), token, _signed_in())
    except actions.LinkRefused as err:
        return _refused(err)
    return _private(Response(render_template("decide/confirm.html", p=page, errors={}, comment="")))


@bp.post("/decide/<token>")
def decide(token: str) -> ResponseReturnValue:
    """Take the link's decision, with the comment typed on the confirmation page."""
    ctx = engine_ctx()
    comment = request.form.get("comment", "")[:10_000]
    try:
        done = actions.decide(ctx, token, comment, _signed_in())
    except actions.LinkRefused as err:
        return _refused(err)
    except FormDataInvalid as err:
        try:
            page = actions.confirmation(ctx, token, _signed_in())
        except actions.LinkRefused as refused:
            return _refused(refused)
        errors = {"comment": "; ".join(str(v) for v in err.errors.values())}
        body = render_template("decide/confirm.html", p=page, errors=errors, comment=comment)
        return _private(Response(body, status=status_of(err)))
    return _private(Response(render_template("decide/done.html", d=done)))
