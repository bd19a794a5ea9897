"""/api/v1/process-instances: start, read, list, cancel, retry, migrate and audit instances."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from engine.core.errors import InvalidInput
from engine.core.records import InstanceView, Page
from engine.requester import watchers
from engine.runtime import instances, migration
from engine.runtime.migration import MigrationPlan, MigrationResult

from . import schemas
from .auth import current_actor
from .context import engine_ctx

blp = Blueprint(
    "process_instances",
    __name__,
    url_prefix="/api/v1/process-instances",
    description="Start process instances and follow them.",
)

IDEMPOTENCY = {
    "parameters": [
        {
            "in": "header",
            "name": "Idempotency-Key",
            "required": False,
            "schema": {"type": "string", "maxLength": 200},
            "description": "a retried start with the same key and body returns the first result",
        }
    ]
}


@blp.route("")
class Instances(MethodView):
    @blp.arguments(schemas.InstanceQuery(), location="query")
    @blp.response(200, schemas.InstancePage)
    def get(self, args: dict[str, Any]) -> Page:
        """Instances, newest first; filter by process, status, outcome, business_key."""
        return instances.list_instances(engine_ctx(), current_actor(), **args)

    @blp.doc(**IDEMPOTENCY)
    @blp.arguments(schemas.StartInstance())
    @blp.response(201, schemas.Instance, description="started")
    @blp.alt_response(
        200,
        schema=schemas.Instance,
        description="a replay: this Idempotency-Key started an instance with the same body before; "
        "the first start's instance, as it is now",
        headers={"Idempotent-Replayed": {"description": "always `true`", "schema": {"type": "string"}}},
    )
    @blp.alt_response(404, schema=schemas.Error, description="no such process or version")
    @blp.alt_response(409, schema=schemas.Error, description="this Idempotency-Key was used with a different body")
    def post(self, body: dict[str, Any]) -> tuple[InstanceView, int, dict[str, str]]:
        """Start an instance of the latest (or a given) version and run it to its first wait."""
        key = request.headers.get("Idempotency-Key")
        if key is not None and not (0 < len(key.strip()) <= 200):
            raise InvalidInput("Idempotency-Key must be 1-200 characters", {"fields": {"Idempotency-Key": "invalid"}})
        view = instances.start(
            engine_ctx(),
            current_actor(),
            body["process"],
            body.get("version"),
            body.get("business_key"),
            body["variables"],
            key.strip() if key else None,
        )
        return view, 200 if view.replayed else 201, {"Idempotent-Replayed": "true"} if view.replayed else {}


@blp.route("/<instance_id>")
class InstanceById(MethodView):
    @blp.response(200, schemas.Instance)
    @blp.alt_response(404, schema=schemas.Error)
    def get(self, instance_id: str) -> InstanceView:
        """One instance: status, variables and open tasks."""
        return instances.get(engine_ctx(), current_actor(), instance_id)


@blp.route("/<instance_id>/cancel")
class CancelInstance(MethodView):
    @blp.arguments(schemas.CancelInstance())
    @blp.response(200, schemas.Instance)
    @blp.alt_response(409, schema=schemas.Error, description="already ended")
    def post(self, body: dict[str, Any], instance_id: str) -> InstanceView:
        """Cancel a running instance with a reason; its open tasks are cancelled."""
        return instances.cancel(engine_ctx(), current_actor(), instance_id, body["reason"])


@blp.route("/<instance_id>/retry")
class RetryInstance(MethodView):
    @blp.arguments(schemas.RetryInstance())
    @blp.response(200, schemas.Instance)
    @blp.alt_response(409, schema=schemas.Error, description="not in error")
    def post(self, body: dict[str, Any], instance_id: str) -> InstanceView:
        """Admin: re-run the failed step of an instance in error, with fixed variables."""
        return instances.retry(engine_ctx(), current_actor(), instance_id, body["variables"])


@blp.route("/<instance_id>/migration-plan")
class InstanceMigrationPlan(MethodView):
    @blp.arguments(schemas.MigrationQuery(), location="query")
    @blp.response(200, schemas.MigrationPlan)
    @blp.alt_response(404, schema=schemas.Error, description="no such instance or version")
    def get(self, args: dict[str, Any], instance_id: str) -> MigrationPlan:
        """Admin: what moving the instance to another version would change, and why it would be refused."""
        return migration.plan(engine_ctx(), current_actor(), instance_id, args["version"])


@blp.route("/<instance_id>/migrate")
class MigrateInstance(MethodView):
    @blp.arguments(schemas.MigrateInstance())
    @blp.response(200, schemas.MigrationResult)
    @blp.alt_response(404, schema=schemas.Error, description="no such instance or version")
    @blp.alt_response(409, schema=schemas.Error, description="unsafe (the message names the elements) or ended")
    def post(self, body: dict[str, Any], instance_id: str) -> MigrationResult:
        """Admin: move a running instance to another published version of its process, in one step.

        Open tasks keep their ids and assignees; timers and due dates follow the new version; one
        `instance_migrated` event is written. Refused (409) when an active or waiting element does
        not exist in the target or changed type."""
        return migration.migrate(engine_ctx(), current_actor(), instance_id, body["version"], body["reason"])


@blp.route("/<instance_id>/audit")
class InstanceAudit(MethodView):
    @blp.response(200, schemas.AuditTrail)
    def get(self, instance_id: str) -> dict[str, Sequence[object]]:
        """The instance's decision trail: every event, oldest first."""
        events = instances.audit_trail(engine_ctx(), current_actor(), instance_id)
        return {"instance_id": instance_id, "events": events}


@blp.route("/<instance_id>/watch")
class Watch(MethodView):
    @blp.response(200, schemas.WatchState)
    @blp.alt_response(409, schema=schemas.Error, description="the instance is decided already")
    def put(self, instance_id: str) -> watchers.WatchState:
        """Watch the instance (again: nothing changes): its token user is told when it is decided, by their
        notification settings (kind `watched_finished`). Scope `instances:read`."""
        return watchers.watch(engine_ctx(), current_actor(), instance_id)

    @blp.response(200, schemas.WatchState)
    def delete(self, instance_id: str) -> watchers.WatchState:
        """Stop watching the instance (not watching: nothing changes). Scope `instances:read`."""
        return watchers.unwatch(engine_ctx(), current_actor(), instance_id)
