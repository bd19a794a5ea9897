"""Administration > Connectors: the hosts the HTTP connector may call (role admin)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from engine.core.errors import Conflict, InvalidInput
from engine.integration import connectors
from webui.admin import bp
from webui.errors import field_errors, status_of
from webui.security import actor, engine_ctx, requires


def _page(
    status: int = 200, values: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> ResponseReturnValue:
    return render_template(
        "admin/connectors.html",
        rows=connectors.list_hosts(engine_ctx(), actor()),
        values=values or {},
        errors=errors or {},
        prefix=connectors.SECRET_PREFIX,
    ), status


@bp.get("/connectors")
@requires("connector.manage")
def connector_list() -> ResponseReturnValue:
    return _page()


@bp.post("/connectors")
@requires("connector.manage")
def connector_add() -> ResponseReturnValue:
    form = request.form
    values = {
        "pattern": form.get("pattern", ""),
        "note": form.get("note", ""),
        "allow_private": form.get("allow_private", ""),
    }
    try:
        row = connectors.add_host(
            engine_ctx(), actor(), values["pattern"], bool(values["allow_private"]), values["note"]
        )
    except (InvalidInput, Conflict) as err:  # a pattern listed already is a problem of the pattern field
        return _page(status_of(err), values, field_errors(err, "pattern" if isinstance(err, Conflict) else "_"))
    flash(f"The HTTP connector may now call {row.pattern}.", "info")
    return redirect(url_for("admin.connector_list"))


@bp.post("/connectors/<host_id>/remove")
@requires("connector.manage")
def connector_remove(host_id: str) -> ResponseReturnValue:
    connectors.remove_host(engine_ctx(), actor(), host_id)
    flash("Removed from the allow-list; calls to that host now fail.", "info")
    return redirect(url_for("admin.connector_list"))
