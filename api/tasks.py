"""/api/v1/tasks: list, read, claim and complete human tasks."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from engine.core.records import Page, TaskView
from engine.tasks import claims, completion
from engine.tasks import inbox as tasks

from . import schemas
from .auth import current_actor
from .context import engine_ctx

blp = Blueprint("tasks", __name__, url_prefix="/api/v1/tasks", description="Human tasks.")


@blp.route("")
class Tasks(MethodView):
    @blp.arguments(schemas.TaskQuery(), location="query")
    @blp.response(200, schemas.TaskPage)
    def get(self, args: dict[str, Any]) -> Page:
        """Tasks you may see (admins, auditors and systems see all); open ones by default."""
        return tasks.list_tasks(engine_ctx(), current_actor(), **args)


@blp.route("/<task_id>")
class TaskById(MethodView):
    @blp.response(200, schemas.TaskDetail)
    @blp.alt_response(404, schema=schemas.Error)
    def get(self, task_id: str) -> TaskView:
        """One task, with the form-js schema of its form."""
        return tasks.get(engine_ctx(), current_actor(), task_id)


@blp.route("/<task_id>/complete")
class CompleteTask(MethodView):
    @blp.arguments(schemas.CompleteTask())
    @blp.response(200, schemas.CompletedTask)
    @blp.alt_response(
        403,
        schema=schemas.Error,
        description="not in the task's group, or barred by separation of duties (also as a delegate)",
    )
    @blp.alt_response(409, schema=schemas.Error, description="already completed")
    @blp.alt_response(422, schema=schemas.Error, description="form data invalid; details.fields names each field")
    def post(self, body: dict[str, Any], task_id: str) -> TaskView:
        """Complete a task with data validated against its form; the answer lists the instance's next open tasks."""
        return completion.complete(engine_ctx(), current_actor(), task_id, body["data"])


@blp.route("/<task_id>/claim")
class ClaimTask(MethodView):
    @blp.response(200, schemas.Task)
    @blp.alt_response(
        403,
        schema=schemas.Error,
        description="not a candidate of the task (group or candidate user), or barred by separation of duties",
    )
    @blp.alt_response(409, schema=schemas.Error, description="assigned to someone else, or no longer open")
    def post(self, task_id: str) -> TaskView:
        """Take an unassigned task you are a candidate of (a member of its groups, or one of its candidate users)."""
        return claims.claim(engine_ctx(), current_actor(), task_id)


@blp.route("/<task_id>/unclaim")
class UnclaimTask(MethodView):
    @blp.response(200, schemas.Task)
    @blp.alt_response(403, schema=schemas.Error, description="only the assignee (or an admin) gives a task back")
    @blp.alt_response(409, schema=schemas.Error, description="not assigned, or no longer open")
    def post(self, task_id: str) -> TaskView:
        """Give a task you hold back to its candidates."""
        return claims.unclaim(engine_ctx(), current_actor(), task_id)
