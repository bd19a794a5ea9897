"""The properties panel's JSON endpoints: the condition builder and dry runs of a draft.

Each takes and returns JSON, needs the CSRF token (header X-CSRFToken) and the
`definition.design` permission; each is a `@json_view`, so its errors answer in the API's shape
(webui/errors.py). A dry run's state travels with the client, signed with the app's secret so
that only states this server wrote are loaded again.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, Signer

from designer import conditions, dryrun
from engine.admin import groups
from engine.core.context import step_limits
from engine.core.errors import InvalidInput
from engine.definitions import deployments
from engine.definitions.decisions import published_decision_resolver
from engine.sla import calendars
from engine.spiff.expressions.sandbox import check_expression
from engine.spiff.model.parsing import SourceFile
from webui.errors import json_view
from webui.security import actor, engine_ctx, requires

bp = Blueprint("designer_panel", __name__)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("send a JSON object (Content-Type: application/json)", {"fields": {"_": "not JSON"}})
    return body


@bp.get("/designer/panel/options")
@requires("definition.design")
@json_view
def options() -> ResponseReturnValue:
    """What the panel offers in its pickers: group names (lanes, approvals), business calendar names (SLAs),
    the chat channels a process may post to (pmoflow:announce), and the deployment's default group (gets user
    tasks with no lane, candidates or process default)."""
    ctx = engine_ctx()
    return jsonify(
        {
            "groups": groups.group_names(ctx),
            "calendars": [c.name for c in calendars.list_calendars(ctx, actor())],
            "default_group": ctx.settings.default_group,
            "channels": sorted(ctx.settings.channels()),  # what pmoflow:announce may name
        }
    )


@bp.post("/designer/conditions/build")
@requires("definition.design")
@json_view
def build_condition() -> ResponseReturnValue:
    """{"condition": {...}} -> {"expression": "..."}; 422 names the bad clause."""
    return jsonify({"expression": conditions.build(_body().get("condition"))})


@bp.post("/designer/conditions/parse")
@requires("definition.design")
@json_view
def parse_condition() -> ResponseReturnValue:
    """{"expression"} -> {"condition", "reason", "problem"}: condition null (with the reason) goes to the raw
    editor; problem names why the expression does not compile in the sandbox (null when it does)."""
    expression = _body().get("expression")
    if not isinstance(expression, str):
        raise InvalidInput("expression must be text", {"fields": {"expression": "must be text"}})
    problem = check_expression(expression, "eval") if expression.strip() else "the expression is empty"
    try:
        return jsonify({"condition": conditions.parse(expression), "reason": None, "problem": problem})
    except conditions.NotReadable as err:
        return jsonify({"condition": None, "reason": str(err), "problem": problem})


@bp.post("/designer/dry-run")
@requires("definition.design")
@json_view
def dry_run() -> ResponseReturnValue:
    """Start (no state) or continue (state + action) a dry run of the posted files; never touches instances."""
    body = _body()
    files = _files(body.get("files"))
    ctx = engine_ctx()
    limits = dryrun.Limits(
        max_bytes=ctx.settings.max_upload_bytes,
        max_files=ctx.settings.max_deployment_files,
        time_limit=ctx.settings.script_time_limit,
        step=step_limits(ctx.settings),
        published=deployments.published_resolver(ctx),
        decisions=published_decision_resolver(ctx),
        calendars=calendars.snapshot(ctx),  # due dates on business time, as the engine counts them
    )
    process = body.get("process") if isinstance(body.get("process"), str) and body.get("process") else None
    if body.get("state") is None:
        run = dryrun.start(files, body.get("variables") or {}, now=ctx.clock.now(), process=process, limits=limits)
    else:
        run = dryrun.step(files, _unsigned(body.get("state")), body.get("action") or {}, limits=limits)
    answer = run.as_dict()
    answer["state"] = _signer().sign(run.state.encode()).decode()
    return jsonify(answer)


def _files(raw: Any) -> list[SourceFile]:
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("files must be a list of {name, content}", {"fields": {"files": "required"}})
    files = []
    for index, item in enumerate(raw):
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("name"), str)
            or not isinstance(item.get("content"), str)
        ):
            raise InvalidInput(
                f"files[{index}] must be {{name, content}} with text values",
                {"fields": {f"files[{index}]": "must be {name, content}"}},
            )
        files.append(SourceFile(item["name"], item["content"].encode()))
    return files


def _signer() -> Signer:
    return Signer(current_app.config["SECRET_KEY"], salt="pmoflow.designer.dry-run")


def _unsigned(state: Any) -> str:
    if not isinstance(state, str):
        raise InvalidInput("state must be the text the last answer gave", {"fields": {"state": "must be text"}})
    try:
        return _signer().unsign(state.encode()).decode()
    except BadSignature as err:
        raise InvalidInput(
            "the dry run's state was altered or comes from another server; start it again",
            {"fields": {"state": "bad signature"}},
        ) from err
