"""Signing in and out, and changing one's password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user

from engine.admin import passwords
from engine.core.errors import InvalidInput
from webui.extensions import limiter, login_manager
from webui.security import WebUser, actor, engine_ctx

bp = Blueprint("auth", __name__, template_folder="templates")


@login_manager.user_loader
def load_user(session_id: str) -> WebUser | None:
    """The session id is 'user_id:epoch'; a changed epoch (deactivation, new password) ends the session."""
    try:
        user_id, epoch = (int(part) for part in session_id.split(":"))
    except ValueError:
        return None
    found = passwords.session_user(engine_ctx(), user_id, epoch)
    return WebUser(found.actor, found.epoch, found.display_name) if found else None


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect a signed-in user to another site."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("tasklist.inbox")


def _login_key() -> str:
    return f"{request.remote_addr}|{request.form.get('username', '').strip().lower()}"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    "10 per minute",
    key_func=_login_key,
    methods=["POST"],
    error_message="Too many sign-in attempts. Wait a minute and try again.",
)
def login() -> ResponseReturnValue:
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(_safe_next(request.args.get("next")))
        return render_template("auth/login.html", next=request.args.get("next", ""))
    username = request.form.get("username", "").strip()
    found = passwords.login(engine_ctx(), username, request.form.get("password", ""), request.remote_addr)
    if found is None:
        flash("Wrong user name or password.", "error")
        return render_template("auth/login.html", next=request.form.get("next", ""), username=username), 401
    session.clear()
    login_user(WebUser(found.actor, found.epoch, found.display_name))
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password() -> ResponseReturnValue:
    errors: dict[str, str] = {}
    if request.method == "POST":
        new = request.form.get("new", "")
        if new != request.form.get("confirm", ""):
            errors["confirm"] = "The two new passwords differ."
        else:
            try:
                passwords.change_password(engine_ctx(), actor().username, request.form.get("current", ""), new)
            except InvalidInput as err:
                errors = dict(err.details["fields"])
                errors = {k: err.message for k in errors}
            else:
                logout_user()
                flash("Password changed. Sign in with the new one.", "info")
                return redirect(url_for("auth.login"))
    return render_template("auth/password.html", errors=errors), 422 if errors else 200
