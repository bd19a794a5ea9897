"""HTTP connector calls, step side: the request of each ready connector task, queued as a job.

A step that leaves `pmoflow:connector` service tasks ready (engine/spiff/extensions/connector.py)
calls `enqueue_calls`: the request is built from the variables (URL placeholders, the body
expression) and one `connector` job is enqueued in the step's transaction. The worker's side
(the allow-list, sending, completing the task with the response) is engine.integration.connectors,
which steps the instance and so sits above this module.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.context import EngineContext
from engine.db.models import Job, ProcessInstance
from engine.events import stream as audit
from engine.runtime import jobs
from engine.runtime.external_mirror import raise_incident
from engine.spiff.expressions.sandbox import SandboxedEnvironment
from engine.spiff.extensions.connector import PLACEHOLDER
from engine.spiff.runtime.variables import jsonable
from engine.spiff.runtime.work import ConnectorCall

KIND = "connector"
ACTOR = "connector"


class RequestInvalid(Exception):
    """The request could not be built from the variables (a placeholder or the body failed)."""


def build_request(call: ConnectorCall, variables: dict[str, Any], time_limit: float) -> dict[str, Any]:
    """The request of a ready connector task, from the variables; raises RequestInvalid."""
    config = call.config

    def fill(template: str, quote_values: bool) -> str:
        def one(match: Any) -> str:
            name = match.group(1)
            if name not in variables:
                raise RequestInvalid(f"variable {name!r} (used in {template!r}) is not set")
            value = variables[name]
            text = value if isinstance(value, str) else json.dumps(jsonable(value))
            return quote(text, safe="") if quote_values else text

        return PLACEHOLDER.sub(one, template)

    url = fill(config["url"], quote_values=True)
    headers = {h["name"]: fill(h["value"], quote_values=False) for h in config["headers"] if h.get("value") is not None}
    secrets = {h["name"]: h["secret"] for h in config["headers"] if h.get("secret")}
    body = None
    if config.get("body"):
        try:
            body = jsonable(SandboxedEnvironment(time_limit=time_limit).evaluate(config["body"], dict(variables)))
        except Exception as err:  # noqa: BLE001 - any failure of the expression is reported on the element
            raise RequestInvalid(f"the body expression failed: {type(err).__name__}: {err}") from err
    return {
        "method": config["method"],
        "url": url,
        "headers": headers,
        "secrets": secrets,
        "body": body,
        "timeout": config["timeout"],
    }


def enqueue_calls(
    ctx: EngineContext,
    session: Session,
    instance: ProcessInstance,
    calls: list[ConnectorCall],
    now: datetime,
) -> None:
    """Enqueue one job per ready connector task that has none pending (called by every step)."""
    if not calls or instance.status != "running":
        return
    active = {
        p.get("task_id")
        for p in session.scalars(
            select(Job.payload).where(
                Job.instance_id == instance.id, Job.kind == KIND, Job.status.in_(("pending", "running"))
            )
        )
    }
    for call in calls:
        if call.id in active:
            continue
        try:
            request = build_request(call, {**instance.variables, **jsonable(call.data)}, ctx.settings.script_time_limit)
        except RequestInvalid as err:
            raise_incident(
                session,
                instance,
                call.id,
                call.element_id,
                f"HTTP connector: {err}",
                "ConnectorRequestInvalid",
                now,
                ACTOR,
            )
            return
        config = call.config
        job = jobs.enqueue(
            session,
            KIND,
            {
                "instance": instance.uuid,
                "task_id": call.id,
                "element_id": call.element_id,
                "name": call.name,
                "request": request,
                "outputs": config["outputs"],
                "result_variable": config.get("result_variable"),
            },
            now,
            max_attempts=int(config["retries"]) + 1,
            instance=instance,
        )
        audit.record(
            session,
            "connector_call_queued",
            now,
            instance=instance,
            actor=ACTOR,
            task_uuid=call.id,
            element_id=call.element_id,
            data={"method": request["method"], "url": request["url"], "job": job.uuid},
        )
