"""Signing in and out (a password, or the OpenID provider: webui/auth/oidc.py), and changing one's password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user

from engine.admin import passwords, sessions, signin
from engine.core.errors import InvalidInput, NotFound, PmoflowError
from engine.sso import logout as sso_logout
from engine.sso import provisioning
from webui.auth import oidc
from webui.errors import json_view, status_of
from webui.extensions import csrf, login_manager
from webui.security import WebUser, actor, engine_ctx

bp = Blueprint("auth", __name__, template_folder="templates")


@login_manager.user_loader
def load_user(token: str) -> WebUser | None:
    """The cookie carries a server-side session's secret id; an ended or timed-out session signs nobody in."""
    found = sessions.current(engine_ctx(), token)
    return WebUser(found.actor, token, found.display_name, found.session_id) if found else None


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect a signed-in user to another site. Browsers read a backslash as a
    slash and drop tabs and line ends, so "/\\evil.example" and "/<tab>/evil.example" are "//evil.example"."""
    if not target or any(c == "\\" or ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return url_for("tasklist.inbox")
    if target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("tasklist.inbox")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(_safe_next(request.args.get("next")))
        return _login_page(next=request.args.get("next", ""))
    username = request.form.get("username", "").strip()
    result = signin.sign_in(
        engine_ctx(),
        username,
        request.form.get("password", ""),
        request.remote_addr,
        request.user_agent.string,
    )
    if result.user is None or result.token is None:
        if result.lockout is not None:  # counted for every process (engine/admin/throttle.py)
            flash(result.lockout.message, "error")
            status = 429
        elif result.refused is not None:
            flash(result.refused, "error")
            status = 403
        else:
            admins_only = engine_ctx().settings.local_login == "admins"
            flash("Wrong user name or password." + (" Passwords are for admins only." if admins_only else ""), "error")
            status = 401
        return _login_page(next=request.form.get("next", ""), username=username), status
    return _signed_in(result, request.form.get("next"))


def _login_page(**values: str) -> str:
    name = engine_ctx().settings.oidc_name if oidc.enabled() else None
    local = engine_ctx().settings.local_login != "off" or not oidc.enabled()
    return render_template("auth/login.html", sso_name=name, local_login=local, **values)


def _signed_in(result: signin.SignIn, target: str | None) -> ResponseReturnValue:
    assert result.user is not None and result.token is not None
    session.clear()
    login_user(WebUser(result.user.actor, result.token, result.user.display_name, result.user.session_id))
    return redirect(_safe_next(target))


@bp.get("/login/sso")
def sso_login() -> ResponseReturnValue:
    """Off to the OpenID provider (PKCE, state, nonce); back at `sso_callback`."""
    if not oidc.enabled():
        raise NotFound("single sign-on is not configured")
    for key in [k for k in session if k.startswith(oidc.STATE_PREFIX)]:
        session.pop(key)  # an unfinished earlier attempt: the cookie keeps one sign-in's state at a time
    session["sso_next"] = _safe_next(request.args.get("next"))
    return oidc.start()


@bp.get(oidc.CALLBACK)
def sso_callback() -> ResponseReturnValue:
    """The provider's answer: verify the ID token, provision the user, start a session; a refusal shows the
    sign-in page again with the reason (401; 502 when the provider could not be reached)."""
    if not oidc.enabled():
        raise NotFound("single sign-on is not configured")
    target = session.get("sso_next")
    ctx = engine_ctx()
    try:
        answer = oidc.finish()
        result = provisioning.sign_in(
            ctx,
            answer.issuer,
            answer.claims,
            answer.id_token,
            request.remote_addr,
            request.user_agent.string,
            access_token=answer.access_token,
        )
    except PmoflowError as err:
        provisioning.refused(ctx, err.message, request.remote_addr)
        flash(f"Signing in with {ctx.settings.oidc_name} failed: {err.message}", "error")
        return _login_page(), status_of(err)
    return _signed_in(result, target)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End this session on the server (every process refuses its cookie from now on), then the cookie; signed
    in with the OpenID provider, then on to the provider's logout (RP-initiated) where it offers one."""
    id_token = None
    if current_user.is_authenticated:
        id_token = sessions.end(engine_ctx(), current_user.token, actor().username)
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    if id_token is not None and oidc.enabled():
        try:
            provider_logout = oidc.logout_url(id_token)
        except PmoflowError:  # the provider is unreachable: pmoflow's session has ended all the same
            provider_logout = None
        if provider_logout is not None:
            return redirect(provider_logout)
    return redirect(url_for("auth.login"))


@bp.post("/logout/backchannel")
@csrf.exempt
@json_view
def backchannel_logout() -> ResponseReturnValue:
    """OpenID Connect back-channel logout: the provider posts a `logout_token`; its sessions end here.
    200 when valid (whether or not a session was open), 400 when not (the specification's answers)."""
    sso_logout.backchannel_logout(engine_ctx(), request.form.get("logout_token", ""))
    return "", 200, {"Cache-Control": "no-store"}


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
