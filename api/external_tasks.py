"""/api/v1/external-tasks: workers fetch, lock and finish external tasks; operators list them."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.integration import external_tasks as et
from engine.integration import external_views
from engine.integration.external_views import ExternalTaskView

from . import schemas
from .auth import current_actor
from .context import engine_ctx

blp = Blueprint(
    "external_tasks",
    __name__,
    url_prefix="/api/v1/external-tasks",
    description="External tasks: service tasks with a topic, done by workers (fetch and lock, then "
    "complete, failure, bpmn-error or extend-lock). Role: external-worker (or admin).",
)

WORKER_ID: dict[str, Any] = {
    "required": True,
    "validate": validate.Length(min=1, max=et.NAME_LIMIT),
    "metadata": {"description": "the worker's name; the lock is held in it"},
}


def _whole(low: int, high: int, **kw: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=low, max=high), **kw)


class TopicRequest(schemas.Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=et.TOPIC_LIMIT))
    lock_duration_ms = _whole(1, et.MAX_LOCK_MS, required=True)
    variables = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        allow_none=True,
        load_default=None,
        validate=validate.Length(max=et.MAX_VARIABLE_NAMES),
        metadata={"description": "the variables to hand over (default: all)"},
    )


class FetchAndLock(schemas.Strict):
    worker_id = fields.String(**WORKER_ID)
    max_tasks = _whole(1, et.MAX_TASKS, required=True)
    topics = fields.List(fields.Nested(TopicRequest), required=True, validate=validate.Length(min=1, max=et.MAX_TOPICS))


class LockedTask(Schema):
    id = fields.String()
    topic = fields.String()
    worker_id = fields.String()
    instance_id = fields.String()
    element_id = fields.String()
    name = fields.String()
    process = fields.String(metadata={"description": "the process definition's key"})
    process_version = fields.Integer()
    business_key = fields.String(allow_none=True)
    variables = fields.Dict()
    retries = fields.Integer(
        allow_none=True,
        metadata={"description": "null until a failure reports retries (or as the model sets them: zeebe retries)"},
    )
    error_message = fields.String(allow_none=True, metadata={"description": "the last failure's message"})
    lock_expires_at = fields.DateTime()
    created_at = fields.DateTime()


class Complete(schemas.Strict):
    worker_id = fields.String(**WORKER_ID)
    variables = fields.Dict(keys=fields.String(), load_default=dict)


class Failure(schemas.Strict):
    worker_id = fields.String(**WORKER_ID)
    message = fields.String(required=True, validate=validate.Length(min=1, max=et.MAX_MESSAGE))
    retries = _whole(
        0,
        et.MAX_RETRIES,
        required=True,
        metadata={"description": "attempts left; 0 raises an incident on the instance naming the element"},
    )
    retry_timeout_ms = _whole(
        0,
        et.MAX_RETRY_TIMEOUT_MS,
        load_default=0,
        metadata={"description": "the task is fetchable again after this long"},
    )


class BpmnError(schemas.Strict):
    worker_id = fields.String(**WORKER_ID)
    error_code = fields.String(required=True, validate=validate.Length(min=1, max=et.CODE_LIMIT))
    error_message = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=et.MAX_MESSAGE))
    variables = fields.Dict(
        keys=fields.String(), load_default=dict, metadata={"description": "set on the path that catches the error"}
    )


class ExtendLock(schemas.Strict):
    worker_id = fields.String(**WORKER_ID)
    new_duration_ms = _whole(1, et.MAX_LOCK_MS, required=True, metadata={"description": "from now"})


class Finished(Schema):
    id = fields.String()
    status = fields.String(metadata={"description": "completed, bpmn_error, or open (a failure, an uncaught error)"})
    instance_id = fields.String()
    instance_status = fields.String(metadata={"description": "running, completed, error, ..."})
    retries = fields.Integer(allow_none=True)
    available_at = fields.DateTime(allow_none=True, metadata={"description": "fetchable again from then on"})


class ExternalTask(Schema):
    id = fields.String()
    topic = fields.String()
    status = fields.String(metadata={"description": "open, completed, bpmn_error or cancelled"})
    instance_id = fields.String()
    element_id = fields.String()
    name = fields.String()
    process = fields.String()
    business_key = fields.String(allow_none=True)
    worker_id = fields.String(allow_none=True, metadata={"description": "the lock holder while locked"})
    locked = fields.Boolean()
    lock_expires_at = fields.DateTime(allow_none=True)
    retries = fields.Integer(allow_none=True)
    available_at = fields.DateTime(allow_none=True)
    error_message = fields.String(allow_none=True)
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    completed_by = fields.String(allow_none=True)


class ExternalTaskQuery(schemas.Strict):
    topic = fields.String(validate=validate.Length(min=1, max=et.TOPIC_LIMIT))
    locked = fields.Boolean()
    instance_id = fields.String(validate=validate.Length(max=36))
    status = fields.String(
        load_default="open", validate=validate.OneOf(("open", "completed", "bpmn_error", "cancelled", "all"))
    )
    limit = schemas.Whole(1, 1000, load_default=100)


@blp.route("")
class ExternalTasks(MethodView):
    @blp.arguments(ExternalTaskQuery(), location="query")
    @blp.response(200, ExternalTask(many=True))
    def get(self, args: dict[str, Any]) -> list[ExternalTaskView]:
        """External tasks, oldest first (open ones by default), by topic, lock and instance; for operators."""
        return external_views.list_tasks(engine_ctx(), current_actor(), **args)


@blp.route("/fetch-and-lock")
class FetchAndLockView(MethodView):
    @blp.arguments(FetchAndLock())
    @blp.response(200, LockedTask(many=True))
    def post(self, body: dict[str, Any]) -> list[et.LockedTask]:
        """Lock up to max_tasks open tasks of the topics for this worker (oldest first; none: an empty list)."""
        topics = [et.TopicRequest(t["name"], t["lock_duration_ms"], t["variables"]) for t in body["topics"]]
        return et.fetch_and_lock(engine_ctx(), current_actor(), body["worker_id"], body["max_tasks"], topics)


@blp.route("/<task_id>/complete")
class CompleteView(MethodView):
    @blp.arguments(Complete())
    @blp.response(200, Finished)
    @blp.alt_response(404, schema=schemas.Error, description="no such external task")
    @blp.alt_response(409, schema=schemas.Error, description="not locked by this worker, or finished already")
    def post(self, body: dict[str, Any], task_id: str) -> et.Finished:
        """Complete a task this worker holds the lock of; its variables go into the process."""
        return et.complete(engine_ctx(), current_actor(), task_id, body["worker_id"], body["variables"])


@blp.route("/<task_id>/failure")
class FailureView(MethodView):
    @blp.arguments(Failure())
    @blp.response(200, Finished)
    @blp.alt_response(404, schema=schemas.Error, description="no such external task")
    @blp.alt_response(409, schema=schemas.Error, description="not locked by this worker, or finished already")
    def post(self, body: dict[str, Any], task_id: str) -> et.Finished:
        """Report a failed attempt: fetchable again after retry_timeout_ms, or an incident with no retries left."""
        return et.fail(
            engine_ctx(),
            current_actor(),
            task_id,
            body["worker_id"],
            body["message"],
            body["retries"],
            body["retry_timeout_ms"],
        )


@blp.route("/<task_id>/bpmn-error")
class BpmnErrorView(MethodView):
    @blp.arguments(BpmnError())
    @blp.response(200, Finished)
    @blp.alt_response(404, schema=schemas.Error, description="no such external task")
    @blp.alt_response(409, schema=schemas.Error, description="not locked by this worker, or finished already")
    def post(self, body: dict[str, Any], task_id: str) -> et.Finished:
        """Throw a BPMN error at the task: an error boundary event or event sub-process catches it by its code;
        uncaught, the instance gets an incident."""
        return et.bpmn_error(
            engine_ctx(),
            current_actor(),
            task_id,
            body["worker_id"],
            body["error_code"],
            body["error_message"],
            body["variables"],
        )


@blp.route("/<task_id>/extend-lock")
class ExtendLockView(MethodView):
    @blp.arguments(ExtendLock())
    @blp.response(200, LockedTask)
    @blp.alt_response(404, schema=schemas.Error, description="no such external task")
    @blp.alt_response(409, schema=schemas.Error, description="not locked by this worker (or the lock expired)")
    def post(self, body: dict[str, Any], task_id: str) -> et.LockedTask:
        """Keep the lock for new_duration_ms from now."""
        return et.extend_lock(engine_ctx(), current_actor(), task_id, body["worker_id"], body["new_duration_ms"])
