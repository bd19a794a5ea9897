"""Administration pages (role admin): users, groups and API tokens; calendars, channels, connectors and webhooks in
the modules beside it.

The routes of this module need `user.manage`. Views parse the form, call one service of `engine.admin.users`
with the signed-in admin's username, and render; field problems are shown on the form.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from engine.admin import groups, sessions, tokens, users
from engine.core.errors import Conflict, InvalidInput, NotFound
from engine.core.permissions import ROLES, SCOPES
from webui.errors import field_errors, status_of
from webui.security import actor, engine_ctx, requires

bp = Blueprint("admin", __name__, template_folder="templates", url_prefix="/admin")

ROLE_HELP = {
    "admin": "manages users, groups and tokens; may complete any task",
    "designer": "deploys process definitions",
    "approver": "works the tasks of their groups, starts requests",
    "auditor": "reads every request and its audit trail",
    "api": "for systems: starts instances and sends messages through the API",
    "external-worker": "for systems: only fetches and completes external tasks (give this user an API token)",
}


def _me() -> str:
    return actor().username


def _render(template: str, status: int = 200, **values: Any) -> tuple[str, int]:
    return render_template(template, roles=ROLES, role_help=ROLE_HELP, **values), status


# --- users ------------------------------------------------------------------------------------


@bp.get("/users")
@requires("user.manage")
def user_list() -> ResponseReturnValue:
    return _render("admin/users.html", rows=users.list_users(engine_ctx()))


@bp.route("/users/new", methods=["GET", "POST"])
@requires("user.manage")
def user_new() -> ResponseReturnValue:
    form = request.form
    if request.method == "GET":
        return _render(
            "admin/user_new.html", groups=groups.group_names(engine_ctx()), values={"roles": ["approver"]}, errors={}
        )
    values: dict[str, Any] = {
        "username": form.get("username", ""),
        "display_name": form.get("display_name", ""),
        "email": form.get("email", ""),
        "roles": form.getlist("roles"),
        "groups": form.getlist("groups"),
        "system": bool(form.get("system")),
    }
    try:
        if form.get("password", "") != form.get("confirm", ""):
            raise InvalidInput("the passwords differ", {"fields": {"confirm": "The two passwords differ."}})
        row = users.add_user(
            engine_ctx(),
            values["username"],
            values["display_name"],
            values["email"],
            form.get("password", ""),
            values["roles"],
            values["groups"],
            actor=_me(),
            system=values["system"],
        )
    except (InvalidInput, Conflict) as err:
        return _render(
            "admin/user_new.html",
            status_of(err),
            groups=groups.group_names(engine_ctx()),
            values=values,
            errors=field_errors(err),
        )
    flash(f"User {row.username} created.", "info")
    return redirect(url_for("admin.user", username=row.username))


@bp.get("/users/<username>")
@requires("user.manage")
def user(username: str) -> ResponseReturnValue:
    return _user_page(username, {}, {})


def _user_page(username: str, values: dict[str, Any], errors: dict[str, str], status: int = 200) -> ResponseReturnValue:
    detail = users.user_detail(engine_ctx(), username)
    live = sessions.live_sessions(engine_ctx(), username)
    return _render(
        "admin/user.html", status, d=detail, u=detail.user, values=values, errors=errors, me=_me(), sessions=live
    )


@bp.post("/users/<username>")
@requires("user.manage")
def user_update(username: str) -> ResponseReturnValue:
    form = request.form
    values: dict[str, Any] = {
        "display_name": form.get("display_name", ""),
        "email": form.get("email", ""),
        "roles": form.getlist("roles"),
        "system": bool(form.get("system")),
    }
    try:
        users.update_user(
            engine_ctx(),
            username,
            values["display_name"],
            values["email"],
            values["roles"],
            actor=_me(),
            system=values["system"],
        )
    except InvalidInput as err:
        return _user_page(username, values, field_errors(err), status_of(err))
    flash(f"Saved {username}.", "info")
    return redirect(url_for("admin.user", username=username))


@bp.post("/users/<username>/password")
@requires("user.manage")
def user_password(username: str) -> ResponseReturnValue:
    password = request.form.get("password", "")
    try:
        if password != request.form.get("confirm", ""):
            raise InvalidInput("the passwords differ", {"fields": {"confirm": "The two passwords differ."}})
        users.reset_password(engine_ctx(), username, password, actor=_me())
    except InvalidInput as err:
        return _user_page(username, {}, field_errors(err), status_of(err))
    if username == _me():
        flash("Your password is changed. Sign in with the new one.", "info")
        return redirect(url_for("auth.login"))
    flash(f"New password set for {username}. Their open sessions have ended.", "info")
    return redirect(url_for("admin.user", username=username))


@bp.post("/users/<username>/deactivate")
@requires("user.manage")
def user_deactivate(username: str) -> ResponseReturnValue:
    try:
        users.deactivate_user(engine_ctx(), username, actor=_me())
    except InvalidInput as err:
        flash(err.message, "error")
    else:
        flash(f"{username} is deactivated: signed out everywhere, API tokens revoked.", "info")
    return redirect(url_for("admin.user", username=username))


@bp.post("/users/<username>/sessions")
@requires("user.manage")
def user_sessions_end(username: str) -> ResponseReturnValue:
    """End one of the user's sessions (form field `session`) or all of them, on every process at once."""
    ended = sessions.end_sessions(engine_ctx(), username, actor=_me(), session_id=request.form.get("session") or None)
    flash(f"Ended {ended} session{'s' if ended != 1 else ''} of {username}.", "info")
    return redirect(url_for("admin.user", username=username))


@bp.post("/users/<username>/reactivate")
@requires("user.manage")
def user_reactivate(username: str) -> ResponseReturnValue:
    changed = users.reactivate_user(engine_ctx(), username, actor=_me())
    flash(
        f"{username} can sign in again. Their old API tokens stay revoked."
        if changed
        else f"{username} is active already.",
        "info",
    )
    return redirect(url_for("admin.user", username=username))


# --- groups -----------------------------------------------------------------------------------


@bp.get("/groups")
@requires("user.manage")
def group_list() -> ResponseReturnValue:
    return _render("admin/groups.html", rows=groups.list_groups(engine_ctx()), values={}, errors={})


@bp.post("/groups")
@requires("user.manage")
def group_create() -> ResponseReturnValue:
    name = request.form.get("name", "")
    try:
        row = groups.add_group(engine_ctx(), name, actor=_me())
    except (InvalidInput, Conflict) as err:
        return _render(
            "admin/groups.html",
            status_of(err),
            rows=groups.list_groups(engine_ctx()),
            values={"name": name},
            errors=field_errors(err),
        )
    flash(f"Group {row.name} created. Add its members below.", "info")
    return redirect(url_for("admin.group", name=row.name))


@bp.get("/groups/<path:name>")
@requires("user.manage")
def group(name: str) -> ResponseReturnValue:
    return _group_page(name, {}, {})


def _group_page(name: str, values: dict[str, Any], errors: dict[str, str], status: int = 200) -> ResponseReturnValue:
    detail = groups.group_detail(engine_ctx(), name)
    return _render("admin/group.html", status, g=detail, values=values, errors=errors)


@bp.post("/groups/<path:name>/members")
@requires("user.manage")
def group_add_member(name: str) -> ResponseReturnValue:
    username = request.form.get("username", "").strip()
    try:
        groups.add_member(engine_ctx(), name, username, actor=_me())
    except (InvalidInput, Conflict) as err:
        return _group_page(name, {"username": username}, field_errors(err), status_of(err))
    flash(f"{username} is now in {name}.", "info")
    return redirect(url_for("admin.group", name=name))


@bp.post("/groups/<path:name>/manager")
@requires("user.manage")
def group_set_manager(name: str) -> ResponseReturnValue:
    manager = request.form.get("manager", "").strip()
    try:
        groups.set_group_manager(engine_ctx(), name, manager, actor=_me())
    except InvalidInput as err:
        return _group_page(name, {"manager": manager}, field_errors(err), status_of(err))
    flash(f"{manager} now gets the overdue tasks of {name}." if manager else f"{name} has no manager now.", "info")
    return redirect(url_for("admin.group", name=name))


@bp.post("/groups/<path:name>/members/remove")
@requires("user.manage")
def group_remove_member(name: str) -> ResponseReturnValue:
    username = request.form.get("username", "")
    try:
        groups.remove_member(engine_ctx(), name, username, actor=_me())
    except NotFound as err:
        flash(err.message, "error")
    else:
        flash(f"{username} is no longer in {name}.", "info")
    return redirect(url_for("admin.group", name=name))


# --- API tokens -------------------------------------------------------------------------------


@bp.get("/tokens")
@requires("user.manage")
def token_list() -> ResponseReturnValue:
    return _render(
        "admin/tokens.html",
        o=tokens.token_overview(engine_ctx()),
        values={"username": request.args.get("user", "")},
        errors={},
        scopes=SCOPES,
    )


@bp.post("/tokens")
@requires("user.manage")
def token_create() -> ResponseReturnValue:
    form = request.form
    username, label, processes = form.get("username", ""), form.get("label", ""), form.get("start_processes", "")
    values: dict[str, Any] = {
        "username": username,
        "label": label,
        "scopes": form.getlist("scopes"),
        "start_processes": processes,
    }
    chosen = tokens.scope_list(values["scopes"], processes) or None  # none ticked: every scope of the roles
    try:
        issued = tokens.issue_token(engine_ctx(), username, label, actor=_me(), scopes=chosen)
    except InvalidInput as err:
        return _render(
            "admin/tokens.html",
            status_of(err),
            o=tokens.token_overview(engine_ctx()),
            values=values,
            errors=field_errors(err),
            scopes=SCOPES,
        )
    # The secret is in this one response only: never in a redirect, the session or a flash message.
    response = make_response(*_render("admin/token_created.html", 201, issued=issued))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/tokens/<token_id>/revoke")
@requires("user.manage")
def token_revoke(token_id: str) -> ResponseReturnValue:
    try:
        row = tokens.revoke_token(engine_ctx(), token_id, actor=_me())
    except Conflict as err:
        flash(err.message, "error")
    else:
        flash(f"Token {row.label or row.id[:8]} of {row.username} is revoked.", "info")
    if request.form.get("back") == "user":
        return redirect(url_for("admin.user", username=request.form.get("username", "")))
    return redirect(url_for("admin.token_list"))


from webui.admin import calendars as _calendars  # noqa: E402,F401 - registers its routes on bp
from webui.admin import channels as _channels  # noqa: E402,F401 - registers its routes on bp
from webui.admin import connectors as _connectors  # noqa: E402,F401 - registers its routes on bp
from webui.admin import webhooks as _webhooks  # noqa: E402,F401 - registers its routes on bp
