"""Dry runs: a draft's process walked in memory, with the engine's own parser and runtime.

Nothing here touches the database: a dry run never creates, reads or changes an instance.
The caller holds the run between steps as an opaque `state` string (the web layer signs
it) and sends it back with the same files and one action:

- ``complete``: finish an open user task with the given data (checked against its form);
- ``connector``: finish a waiting HTTP service task with the variables its call would give;
- ``external``: finish a waiting external task with the variables a worker would send, or
  throw the BPMN error ``error_code`` at it, as a worker may;
- ``timer``: move the run's own clock just past a waiting timer (the earliest, or the one
  named) so it fires;
- ``message``: deliver a message with a payload;
- ``throw``: deliver what a waiting catching event (``element``) waits for: broadcast its signal, throw
  its error or escalation inside the activity it sits on, send its message, or set variables
  (``payload``) and check its condition again.

Each answer reports the open tasks (with their forms), waiting timers, messages and other catching
events, the
path taken (element ids, in order), the decisions made (inputs, outputs, matched rules),
the variables and any incident, exactly as a live instance would meet them. Due dates come from the
engine's own functions (engine.sla.deadlines) on the business calendars the caller passes (`Limits.calendars`,
a snapshot of the saved ones): timers on business time are re-armed and a task's SLA property is counted on
its calendar as a live step does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from engine.core.context import check_bounds
from engine.core.errors import FormDataInvalid, InvalidInput
from engine.forms.components import form_fields
from engine.forms.submission import validate_submission
from engine.sla import deadlines
from engine.sla.calendars import Lookup, lookup
from engine.spiff.expressions.sandbox import SandboxedEnvironment, SandboxedScriptEngine
from engine.spiff.extensions.calls import Resolver
from engine.spiff.extensions.decisions import DecisionResolver
from engine.spiff.model.builder import ParsedProcess
from engine.spiff.model.parsing import SourceFile, parse_deployment
from engine.spiff.model.specs import restore_spec
from engine.spiff.runtime import catching
from engine.spiff.runtime.budget import StepLimits
from engine.spiff.runtime.clock import clock_scope
from engine.spiff.runtime.incidents import StepFailed
from engine.spiff.runtime.run import Run
from engine.spiff.runtime.timers import timer_due
from engine.spiff.runtime.variables import jsonable

STATE_VERSION = 1
ACTIONS = ("complete", "connector", "external", "timer", "message", "throw")
MAX_PATH = 2_000  # steps kept in the reported path; a runaway loop stops growing it
MAX_STEPS = 500  # actions in one dry run


@dataclass(frozen=True)
class Limits:
    """What a dry run may use: the deployment limits, the script time limit and the step budget of the settings."""

    max_bytes: int = 2 * 1024 * 1024
    max_files: int = 50
    time_limit: float = 3.0
    step: StepLimits = field(default_factory=StepLimits)  # the engine's budget of one step (engine.core.context)
    published: Resolver | None = None  # finds callees deployed earlier, as deploy does
    decisions: DecisionResolver | None = None  # finds decisions deployed earlier, as deploy does
    calendars: Lookup = field(default_factory=lambda: lookup(lambda name: None))  # by name (calendars.snapshot)


@dataclass(frozen=True)
class DryRun:
    """Where a dry run stands after one action."""

    state: str
    process: str
    status: str
    now: str
    open_tasks: list[dict[str, Any]]
    connector_tasks: list[dict[str, Any]]
    external_tasks: list[dict[str, Any]]
    timers: list[dict[str, Any]]
    messages: list[str]
    path: list[str]
    steps: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    variables: dict[str, Any]
    incident: dict[str, Any] | None
    start_form: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    catches: list[dict[str, Any]] = field(default_factory=list)  # waiting events other than timers

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# ---------------------------------------------------------------- entry points


def start(
    files: Sequence[SourceFile],
    variables: dict[str, Any],
    *,
    now: datetime,
    process: str | None = None,
    limits: Limits = Limits(),
) -> DryRun:
    """Start a dry run with sample variables; raises DeploymentInvalid (every problem) or InvalidInput."""
    if not isinstance(variables, dict) or not all(isinstance(k, str) for k in variables):
        raise InvalidInput("variables must be a JSON object", {"fields": {"variables": "must be an object"}})
    bad = [k for k in variables if not k.isidentifier() or k.startswith("_")]
    if bad:
        raise InvalidInput(
            f"variable names must be identifiers not starting with _: {', '.join(bad)}",
            {"fields": {"variables": f"bad names: {', '.join(bad)}"}},
        )
    check_bounds(variables, limits.step)
    parsed = _parse(files, process, limits)
    record: dict[str, Any] = {"path": [], "steps": [], "decisions": [], "count": 0, "due": {}}
    with clock_scope(lambda: now):
        run = Run.start(restore_spec(parsed.spec_json), jsonable(variables), _engine(limits), limits.step)
        run.business_due = deadlines.timers_due(limits.calendars)  # timers on business time, as a live step
        _guarded(run.advance)
    return _answer(parsed, run, now, record, limits)


def step(files: Sequence[SourceFile], state: str, action: dict[str, Any], *, limits: Limits = Limits()) -> DryRun:
    """Apply one action to a dry run; raises InvalidInput (bad action, stale state), FormDataInvalid."""
    saved = _read_state(state)
    parsed = _parse(files, saved["process"], limits)
    if saved["hash"] != _hash(parsed):
        raise InvalidInput(
            "the diagram changed since this dry run started; start it again", {"fields": {"state": "stale"}}
        )
    if saved["record"]["count"] >= MAX_STEPS:
        raise InvalidInput(f"a dry run takes at most {MAX_STEPS} actions; start it again")
    kind = action.get("action") if isinstance(action, dict) else None
    if kind not in ACTIONS:
        raise InvalidInput(f"action must be one of {', '.join(ACTIONS)}", {"fields": {"action": "unknown"}})
    if isinstance(action.get("data"), dict):
        check_bounds(action["data"], limits.step, "data")
    now = datetime.fromisoformat(saved["now"])
    bundle = restore_spec(parsed.spec_json)
    with clock_scope(lambda: now):
        run = Run.load(saved["workflow"], bundle, _engine(limits), limits.step)
        run.business_due = deadlines.timers_due(limits.calendars)
    due = _waiting_timers(run)
    if kind == "timer":
        now = _timer_time(run, action.get("element"))
    with clock_scope(lambda: now):
        if kind == "complete":
            _complete(run, parsed, action, limits)
        elif kind == "connector":
            _complete_connector(run, action)
        elif kind == "external":
            _finish_external(run, action)
        elif kind == "timer":
            _guarded(run.advance)
        elif kind == "throw":
            _throw(run, action)
        else:
            _message(run, action)
    saved["record"]["count"] += 1
    fired = [(eid, name) for eid, name, at in due if at < now]  # repeating reminders leave no completed task
    return _answer(parsed, run, now, saved["record"], limits, fired)


# ---------------------------------------------------------------- actions


def _complete(run: Run, parsed: ParsedProcess, action: dict[str, Any], limits: Limits) -> None:
    task_id, data = _task_and_data(action)
    open_ids = {t.id: t for t in run.open_tasks()}
    if task_id not in open_ids:
        raise InvalidInput(f"task {task_id!r} is not open in this dry run", {"fields": {"task": "not open"}})
    schema = _form_of(parsed, open_ids[task_id].process, open_ids[task_id].element_id)
    if schema is not None:
        data = _checked(schema, data, limits)
    _guarded(lambda: run.complete(task_id, jsonable(data)))


def _complete_connector(run: Run, action: dict[str, Any]) -> None:
    task_id, data = _task_and_data(action)
    calls = {c.id for c in _connector_calls(run)}
    if task_id not in calls:
        raise InvalidInput(f"service task {task_id!r} is not waiting in this dry run", {"fields": {"task": "not open"}})
    _guarded(lambda: run.complete_connector(task_id, jsonable(data)))


def _finish_external(run: Run, action: dict[str, Any]) -> None:
    task_id, data = _task_and_data(action)
    if task_id not in {t.id for t in run.external_tasks()}:
        raise InvalidInput(
            f"external task {task_id!r} is not waiting in this dry run", {"fields": {"task": "not open"}}
        )
    code = action.get("error_code")
    if code is None:
        _guarded(lambda: run.complete_external(task_id, jsonable(data)))
    elif isinstance(code, str) and code.strip():
        _guarded(lambda: run.throw_error(task_id, code.strip(), None, jsonable(data)))
    else:
        raise InvalidInput("error_code must be a non-empty text", {"fields": {"error_code": "must be text"}})


def _message(run: Run, action: dict[str, Any]) -> None:
    name, payload = action.get("name"), action.get("payload") or {}
    if not isinstance(name, str) or not name:
        raise InvalidInput("a message needs a name", {"fields": {"name": "required"}})
    if not isinstance(payload, dict):
        raise InvalidInput("a message payload must be an object", {"fields": {"payload": "must be an object"}})
    if name not in run.waiting_messages():
        raise InvalidInput(
            f"nothing in this dry run waits for message {name!r}", {"fields": {"name": "not waited for"}}
        )
    _guarded(lambda: run.correlate(name, jsonable(payload)))


def _throw(run: Run, action: dict[str, Any]) -> None:
    element, payload = action.get("element"), action.get("payload") or {}
    if not isinstance(element, str) or not element:
        raise InvalidInput(
            "which event? give the catching element's id as element", {"fields": {"element": "required"}}
        )
    if not isinstance(payload, dict):
        raise InvalidInput("a payload must be an object", {"fields": {"payload": "must be an object"}})
    waiting = {c.element_id for c in catching.waiting(run)}
    if element not in waiting:
        known = ", ".join(sorted(waiting)) or "none"
        raise InvalidInput(
            f"nothing in this dry run waits at {element!r} (waiting: {known})", {"fields": {"element": "not waiting"}}
        )
    _guarded(lambda: catching.throw(run, element, jsonable(payload)))


def _timer_time(run: Run, element: Any) -> datetime:
    timers = _waiting_timers(run)
    if element:
        timers = [t for t in timers if t[0] == element]
    if not timers:
        what = f"timer {element!r} is" if element else "no timer is"
        raise InvalidInput(f"{what} waiting in this dry run", {"fields": {"element": "no such timer"}})
    return min(t[2] for t in timers) + timedelta(seconds=1)


def _task_and_data(action: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    task_id, data = action.get("task"), action.get("data") or {}
    if not isinstance(task_id, str) or not task_id:
        raise InvalidInput("which task? give its id as task", {"fields": {"task": "required"}})
    if not isinstance(data, dict):
        raise InvalidInput("task data must be an object", {"fields": {"data": "must be an object"}})
    return task_id, data


def _checked(schema: dict[str, Any], data: dict[str, Any], limits: Limits) -> dict[str, Any]:
    env = SandboxedEnvironment(time_limit=limits.time_limit)
    defaults = {f["key"]: None for f in form_fields(schema) if isinstance(f.get("key"), str)}

    def evaluate(expression: str, values: dict[str, Any]) -> bool:
        try:
            return bool(env.evaluate(expression, {**defaults, **values}))
        except Exception:  # noqa: BLE001 - the field it depends on carries its own error
            return False

    cleaned, errors = validate_submission(schema, data, evaluate)
    if errors:
        raise FormDataInvalid(errors)
    return cleaned


def _guarded(action: Any) -> None:
    try:
        action()
    except StepFailed as err:
        raise InvalidInput(f"the process cannot go on: {err}") from err


# ---------------------------------------------------------------- observation


def _answer(
    parsed: ParsedProcess,
    run: Run,
    now: datetime,
    record: dict[str, Any],
    limits: Limits,
    fired: Sequence[tuple[str, str]] = (),
) -> DryRun:
    completed = {e["element_id"] for e in run.log.completed}
    for eid, name in fired:
        if eid not in completed and len(record["path"]) < MAX_PATH:
            record["path"].append(eid)
            record["steps"].append({"element_id": eid, "name": name, "type": "TimerFired"})
    named = {s["element_id"]: s["name"] for s in record["steps"] if s.get("name")}
    for entry in run.log.completed:
        if len(record["path"]) < MAX_PATH:
            step_name = entry["name"] or named.get(entry["element_id"])  # a multi-instance activity: its items' name
            named[entry["element_id"]] = step_name
            record["path"].append(entry["element_id"])
            record["steps"].append({"element_id": entry["element_id"], "name": step_name, "type": entry["type"]})
    for decision in run.log.decisions:
        record["decisions"].append(jsonable({k: v for k, v in decision.items() if k not in ("task_id", "process")}))
    run.log.completed.clear()
    run.log.decisions.clear()
    run.log.timers.clear()
    open_tasks = []
    notes: list[str] = []
    live = run.open_tasks()
    dues = record.setdefault("due", {})
    for gone in set(dues) - {t.id for t in live}:
        del dues[gone]
    for task in live:
        schema = _form_of(parsed, task.process, task.element_id)
        due = task.due_at.isoformat() if task.due_at else _sla_due(parsed, run, task, now, limits, dues, notes)
        open_tasks.append(
            {
                "id": task.id,
                "element_id": task.element_id,
                "name": task.name,
                "lane": task.lane,
                "due_at": due,
                "form": schema,
            }
        )
    connectors = [
        {
            "id": c.id,
            "element_id": c.element_id,
            "name": c.name,
            "method": c.config.get("method"),
            "url": c.config.get("url"),
        }
        for c in _connector_calls(run)
    ]
    external = [
        {"id": t.id, "element_id": t.element_id, "name": t.name, "topic": t.config.get("topic")}
        for t in run.external_tasks()
    ]
    timers = [{"element_id": eid, "name": name, "due_at": due.isoformat()} for eid, name, due in _waiting_timers(run)]
    with clock_scope(lambda: now):
        state = json.dumps(
            {
                "v": STATE_VERSION,
                "process": parsed.key,
                "hash": _hash(parsed),
                "now": now.isoformat(),
                "workflow": run.dump(),
                "record": record,
            },
            separators=(",", ":"),
        )
    return DryRun(
        state=state,
        process=parsed.key,
        status=run.status,
        now=now.isoformat(),
        open_tasks=open_tasks,
        connector_tasks=connectors,
        external_tasks=external,
        timers=timers,
        messages=sorted(set(run.waiting_messages())),
        path=list(record["path"]),
        steps=list(record["steps"]),
        decisions=list(record["decisions"]),
        variables=run.variables(),
        incident=run.incident.as_dict() if run.incident else None,
        start_form=parsed.forms.get(parsed.start_form) if parsed.start_form else None,
        notes=notes,
        catches=[c.as_dict() for c in catching.waiting(run) if c.kind != "message"],
    )


def _sla_due(
    parsed: ParsedProcess,
    run: Run,
    task: Any,
    now: datetime,
    limits: Limits,
    dues: dict[str, str | None],
    notes: list[str],
) -> str | None:
    """A task without a boundary timer takes its SLA property's due date once, when it opens, as the engine's
    task rows do (engine.sla.deadlines.set_due); a property that fails leaves it without one, with a note."""
    if task.id not in dues:
        sla = _info_of(parsed, task.process, task.element_id).get("sla")
        due = None
        if sla and sla.get("due"):
            try:
                due = deadlines.sla_due(sla, run.variables(), now, limits.calendars).isoformat()
            except Exception as err:  # noqa: BLE001 - a live instance goes on without a due date too
                notes.append(f"{task.element_id}: SLA due {sla.get('due')!r} could not be evaluated: {err}")
        dues[task.id] = due
    return dues[task.id]


def _waiting_timers(run: Run) -> list[tuple[str, str, datetime]]:
    found = []
    for task in run.wf.get_tasks():
        due = timer_due(task)
        if due is not None:
            element_id, name = catching.timer_element(task)
            found.append((element_id, name, due))
    return sorted(found, key=lambda t: t[2])


def _connector_calls(run: Run) -> list[Any]:
    calls = getattr(run, "connector_tasks", None)  # HTTP connectors: engine/spiff/extensions/connector.py
    return list(calls()) if calls is not None else []


def _form_of(parsed: ParsedProcess, process: str, element_id: str) -> dict[str, Any] | None:
    info = _info_of(parsed, process, element_id)
    if info.get("form"):
        schema: dict[str, Any] = parsed.forms[info["form"]]
        return schema
    return None


def _info_of(parsed: ParsedProcess, process: str, element_id: str) -> dict[str, Any]:
    """What the definition says of a user task (form, SLA, lane...: engine.spiff.model.builder)."""
    for info in parsed.user_tasks:
        if info["process"] == process and info["element_id"] == element_id:
            found: dict[str, Any] = info
            return found
    return {}


# ---------------------------------------------------------------- parsing and state


def _engine(limits: Limits) -> SandboxedScriptEngine:
    return SandboxedScriptEngine(time_limit=limits.time_limit)


def _parse(files: Sequence[SourceFile], process: str | None, limits: Limits) -> ParsedProcess:
    deployment = parse_deployment(
        files,
        max_bytes=limits.max_bytes,
        max_files=limits.max_files,
        published=limits.published,
        decisions=limits.decisions,
    )
    if not deployment.processes:
        raise InvalidInput("the files hold no executable process to dry-run", {"fields": {"files": "no process"}})
    if process is None:
        return deployment.processes[0]
    for parsed in deployment.processes:
        if parsed.key == process:
            return parsed
    known = ", ".join(p.key for p in deployment.processes)
    raise InvalidInput(
        f"process {process!r} is not in the files (processes: {known})", {"fields": {"process": "unknown"}}
    )


def _hash(parsed: ParsedProcess) -> str:
    return hashlib.sha256((parsed.content_hash + parsed.spec_json).encode()).hexdigest()[:32]


def _read_state(state: str) -> dict[str, Any]:
    try:
        saved = json.loads(state)
    except (TypeError, ValueError) as err:
        raise InvalidInput("the dry run's state is unreadable; start it again", {"fields": {"state": "bad"}}) from err
    if (
        not isinstance(saved, dict)
        or saved.get("v") != STATE_VERSION
        or not all(k in saved for k in ("process", "hash", "now", "workflow", "record"))
    ):
        raise InvalidInput("the dry run's state is unreadable; start it again", {"fields": {"state": "bad"}})
    return saved
