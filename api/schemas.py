"""Marshmallow schemas: what the API takes and what it returns (and the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from engine.core import bounds
from engine.core.outcomes import OUTCOMES


class Strict(Schema):
    class Meta:
        unknown = RAISE


def Whole(low: int = 1, high: int = bounds.INT_MAX, **kw: Any) -> fields.Integer:  # noqa: N802 - used as a field
    """Every integer the API takes (query, path or body) has a range, at most `bounds.INT_MAX` unless
    it says otherwise: a huge one is a 422 naming it, never an overflow in SQL (engine.core.bounds)."""
    return fields.Integer(validate=validate.Range(min=low, max=high), **kw)


class Moment(fields.AwareDateTime):
    """A date and time with a zone, between `bounds.EARLIEST` and `bounds.LATEST` (engine.core.bounds)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(default_timezone=None, **kw)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kw: Any) -> datetime:
        moment: datetime = super()._deserialize(value, attr, data, **kw)
        if not bounds.in_range(moment):
            raise ValidationError(f"must be from {bounds.EARLIEST} to {bounds.LATEST}")
        return moment


class ErrorBody(Schema):
    """Every error of the API and of the designer's JSON endpoints (api/errors.py, webui/errors.py)."""

    code = fields.String(
        required=True,
        metadata={
            "description": "the domain error's code (not_found, forbidden, conflict, invalid_input, invalid_form_data, "
            "invalid_deployment, ...) or the HTTP error's (method_not_allowed, bad_request, ...)"
        },
    )
    message = fields.String(required=True)
    details = fields.Raw(
        metadata={
            "description": "403: {permission, allowed_roles} (permission null when a rule about this task or instance "
            "refused, not a role); 405: {allowed_methods}; 422: {fields: {name: message}} or "
            "{problems: [...]}; other errors: what the message is about, or absent"
        }
    )


class Error(Schema):
    error = fields.Nested(ErrorBody, required=True)


class UserTaskInfo(Schema):
    element_id = fields.String()
    name = fields.String()
    lane = fields.String(allow_none=True)
    form = fields.String(allow_none=True)
    candidate_groups = fields.List(fields.String(), metadata={"description": "static candidate groups"})
    candidate_users = fields.List(fields.String(), metadata={"description": "static candidate users"})
    assignee = fields.String(allow_none=True, metadata={"description": "static assignee"})
    expressions = fields.Dict(
        metadata={
            "description": "candidate_groups / candidate_users / assignee given by an expression, evaluated when the "
            "task is created"
        }
    )
    default_group = fields.String(
        allow_none=True,
        metadata={
            "description": "the process's default group, for a task with no lane or candidates (else the deployment's)"
        },
    )


class Definition(Schema):
    id = fields.String(metadata={"description": "public id of this (key, version)"})
    key = fields.String()
    version = fields.Integer()
    name = fields.String()
    deployment_id = fields.String()
    created_at = fields.DateTime()
    user_tasks = fields.List(fields.Nested(UserTaskInfo))
    forms = fields.List(fields.String())
    lane_map = fields.Dict(keys=fields.String(), values=fields.String())
    new = fields.Boolean(metadata={"description": "true if this deployment created this version"})


class DefinitionDetail(Schema):
    key = fields.String()
    latest = fields.Nested(Definition)
    versions = fields.List(fields.Nested(Definition))


class DeploymentResult(Schema):
    id = fields.String(allow_none=True, metadata={"description": "null when nothing new was deployed"})
    definitions = fields.List(fields.Nested(Definition))
    decisions = fields.List(fields.Nested(lambda: Decision()))


class Task(Schema):
    id = fields.String()
    instance_id = fields.String()
    process = fields.String()
    business_key = fields.String(allow_none=True)
    element_id = fields.String()
    name = fields.String()
    role = fields.String(allow_none=True)
    candidate_groups = fields.List(fields.String())
    candidate_users = fields.List(
        fields.String(),
        metadata={"description": "users the task is offered to by name, besides its groups (candidateUsers)"},
    )
    group_source = fields.String(
        allow_none=True,
        metadata={
            "description": "where candidate_groups came from: lane | candidate_groups | candidate_users "
            "(users only, no group) | process_default | default (the deployment's default group)"
        },
    )
    offered_to = fields.String(metadata={"description": "whom the task is offered to and why, as the pages show it"})
    priority = fields.Integer(
        metadata={"description": "0-100, 50 by default (pmoflow:priority, camunda:priority, zeebe:priorityDefinition)"}
    )
    assignee = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "open | completed | cancelled"})
    form_key = fields.String(allow_none=True)
    created_at = fields.DateTime()
    due_at = fields.DateTime(
        allow_none=True,
        metadata={"description": "from the task's interrupting boundary timer or its SLA property (pmoflow:sla)"},
    )
    at_risk_at = fields.DateTime(allow_none=True, metadata={"description": "from then on the task is at risk"})
    sla_state = fields.String(
        allow_none=True,
        metadata={"description": "none | on_track | at_risk | overdue for an open task (null for a finished one)"},
    )
    completed_at = fields.DateTime(allow_none=True)
    completed_by = fields.String(allow_none=True)
    data = fields.Dict(allow_none=True)


class CompletedTask(Task):
    instance_status = fields.String(metadata={"description": "the instance's status after this step"})
    open_tasks = fields.List(
        fields.Nested(Task),
        metadata={
            "description": "the instance's open tasks after this step (the next ones to work), so no GET is needed"
        },
    )


class TaskDetail(Task):
    form = fields.Dict(allow_none=True, metadata={"description": "the form-js schema of the task's form"})


class InstanceSummary(Schema):
    id = fields.String()
    process = fields.String()
    version = fields.Integer()
    business_key = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "running | completed | cancelled | error"})
    variables = fields.Dict()
    started_by = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    error = fields.Dict(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    outcome = fields.String(
        allow_none=True,
        metadata={
            "description": "what the request came to: approved | rejected | cancelled | failed, or completed "
            "when a finished process carries no decision; null while undecided (running, or stopped by an "
            "incident). Read from an end event's pmoflow:outcome, the outcome variable, the end event's name "
            "or the last decision, when the instance ends.",
            "enum": [*OUTCOMES, None],
        },
    )


class Instance(InstanceSummary):
    open_tasks = fields.List(fields.Nested(Task))


class WatchState(Schema):
    instance_id = fields.String()
    watching = fields.Boolean(metadata={"description": "the token user watches the instance"})
    watchers = fields.Integer(metadata={"description": "how many people watch it"})


class Paged(Schema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class InstancePage(Paged):
    items = fields.List(fields.Nested(InstanceSummary))


class TaskPage(Paged):
    items = fields.List(fields.Nested(Task))


class PageArgs(Strict):
    page = Whole(load_default=1)
    per_page = Whole(1, 200, load_default=50)


class InstanceQuery(PageArgs):
    process = fields.String()
    status = fields.String(validate=validate.OneOf(["running", "completed", "cancelled", "error"]))
    business_key = fields.String()
    outcome = fields.String(
        validate=validate.OneOf(OUTCOMES),
        metadata={"description": "only instances with this outcome (approved, rejected, cancelled, failed, completed)"},
    )


class TaskQuery(PageArgs):
    instance = fields.String()
    role = fields.String()
    assignee = fields.String()
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "completed", "cancelled"]))


class StartInstance(Strict):
    process = fields.String(required=True, validate=validate.Length(min=1, max=200))
    version = Whole()
    business_key = fields.String(validate=validate.Length(max=200), allow_none=True)
    variables = fields.Dict(keys=fields.String(), load_default=dict)


class CancelInstance(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class RetryInstance(Strict):
    variables = fields.Dict(keys=fields.String(), load_default=dict)


class CompleteTask(Strict):
    data = fields.Dict(keys=fields.String(), load_default=dict)


class Message(Strict):
    message = fields.String(required=True, validate=validate.Length(min=1, max=200))
    instance_id = fields.String()
    business_key = fields.String()
    variables = fields.Dict(keys=fields.String(), load_default=dict)


class Signal(Strict):
    signal = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "the signal's name (bpmn:signal name)"},
    )
    variables = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={
            "description": "merged into the data of every event that catches it, and the "
            "start variables of instances it starts"
        },
    )


class SignalResult(Schema):
    signal = fields.String()
    reached = fields.Integer(metadata={"description": "instances reached: resumed + started"})
    resumed = fields.Integer(metadata={"description": "running instances that were waiting for it"})
    started = fields.Integer(metadata={"description": "new instances of processes with a signal start event"})


class AuditEvent(Schema):
    id = fields.String()
    type = fields.String()
    occurred_at = fields.DateTime()
    actor = fields.String(allow_none=True)
    task_id = fields.String(allow_none=True)
    element_id = fields.String(allow_none=True)
    data = fields.Dict()


class AuditTrail(Schema):
    instance_id = fields.String()
    events = fields.List(fields.Nested(AuditEvent))


class Health(Schema):
    status = fields.String()
    database = fields.String()


# ---------------------------------------------------------------- decisions (DMN)


class DecisionInput(Schema):
    id = fields.String()
    label = fields.String()
    expression = fields.String()
    type_ref = fields.String(allow_none=True)


class Decision(Schema):
    id = fields.String(metadata={"description": "public id of this (key, version)"})
    key = fields.String(metadata={"description": "the decision id in the DMN file"})
    version = fields.Integer()
    name = fields.String()
    deployment_id = fields.String()
    created_at = fields.DateTime()
    dmn_file = fields.String()
    kind = fields.String(
        metadata={
            "description": "table | literal | context | invocation | list | relation | function | conditional | "
            "filter | iterator | service (a decision service, evaluated like a decision)"
        }
    )
    hit_policy = fields.String(allow_none=True)
    language = fields.String(metadata={"description": "feel | python | mixed"})
    inputs = fields.List(fields.Nested(DecisionInput))
    outputs = fields.List(fields.String())
    required_decisions = fields.List(fields.String())
    tests = fields.Integer(metadata={"description": "rows in the decision's test table"})
    new = fields.Boolean(metadata={"description": "true if this deployment created this version"})


class DecisionDetail(Schema):
    key = fields.String()
    latest = fields.Nested(Decision)
    versions = fields.List(fields.Nested(Decision))


class EvaluateDecision(Strict):
    inputs = fields.Dict(
        keys=fields.String(),
        required=True,
        metadata={"description": "variables by name; JSON numbers, strings, booleans, lists, objects ({} for none)"},
    )
    version = Whole(metadata={"description": "default: the latest"})


class MatchedRule(Schema):
    decision = fields.String()
    id = fields.String()
    number = fields.Integer()
    description = fields.String()


class DecisionTraceEntry(Schema):
    decision = fields.String()
    name = fields.String()
    kind = fields.String()
    hit_policy = fields.String(allow_none=True)
    inputs = fields.Dict()
    matched_rules = fields.List(fields.Nested(MatchedRule))
    outputs = fields.Dict()
    warnings = fields.List(fields.String())


class DecisionEvaluation(Schema):
    decision = fields.String()
    version = fields.Integer()
    outputs = fields.Dict(
        metadata={
            "description": "output name -> value (a list for multi-hit tables; for a decision service, one per "
            "output decision); lists and contexts as JSON, dates, times and durations as ISO 8601 text"
        }
    )
    matched_rules = fields.List(fields.Nested(MatchedRule))
    trace = fields.List(
        fields.Nested(DecisionTraceEntry),
        metadata={"description": "every decision evaluated, required decisions first"},
    )


# ---------------------------------------------------------------- moving an instance to another version


class MigrationQuery(Strict):
    version = Whole(required=True, metadata={"description": "the target version of the instance's process"})


class MigrateInstance(Strict):
    version = Whole(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ElementChange(Schema):
    process = fields.String()
    element_id = fields.String()
    name = fields.String()
    type = fields.String()
    change = fields.String(metadata={"description": "added, removed or changed"})
    attributes = fields.List(
        fields.String(), metadata={"description": "what changed (spec attributes, form, sla, ...)"}
    )


class ActiveElement(Schema):
    task_id = fields.String()
    process = fields.String()
    element_id = fields.String()
    name = fields.String()
    type = fields.String()
    state = fields.String(metadata={"description": "ready, waiting, started or error"})
    problem = fields.String(allow_none=True, metadata={"description": "why it cannot move, or null"})
    due_at = fields.DateTime(allow_none=True, metadata={"description": "for a waiting timer: when it fires now"})


class MigrationPlan(Schema):
    instance_id = fields.String()
    process = fields.String()
    from_version = fields.Integer()
    to_version = fields.Integer()
    status = fields.String()
    safe = fields.Boolean()
    problems = fields.List(fields.String(), metadata={"description": "every reason it is refused; empty: safe"})
    changes = fields.List(fields.Nested(ElementChange))
    active = fields.List(fields.Nested(ActiveElement))


class MigrationResult(Schema):
    instance_id = fields.String()
    from_version = fields.Integer()
    to_version = fields.Integer()
    status = fields.String()
    kept_tasks = fields.List(fields.String(), metadata={"description": "open task ids kept, with their assignees"})
    next_due_at = fields.DateTime(allow_none=True)
    changes = fields.List(fields.Nested(ElementChange))
