"""Administration > Channels: deciding from messages (email and Teams links, Slack buttons) on or off at run time
for every process (role admin)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from engine.admin import channels
from engine.core.errors import InvalidInput
from webui.admin import bp
from webui.security import actor, engine_ctx, requires

VALUES = {"on": True, "off": False, "environment": None}


@bp.get("/channels")
@requires("channel.manage")
def channel_list() -> ResponseReturnValue:
    return render_template("admin/channels.html", rows=channels.list_switches(engine_ctx(), actor()))


@bp.post("/channels")
@requires("channel.manage")
def channel_set() -> ResponseReturnValue:
    value = request.form.get("value", "")
    if value not in VALUES:
        raise InvalidInput("value must be on, off or environment", {"fields": {"value": "on, off or environment"}})
    view = channels.set_switch(engine_ctx(), actor(), request.form.get("setting", ""), VALUES[value])
    where = "the server's setting" if view.source == "environment" else "your choice"
    flash(f"{view.label}: {'on' if view.on else 'off'} ({where}), for every server and worker now.", "info")
    return redirect(url_for("admin.channel_list"))
