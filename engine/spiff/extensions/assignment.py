"""Who works a user task, and the other Camunda 7 / Camunda 8 user-task attributes we read.

Candidates come from, for each of candidate groups, candidate users and assignee, the first
of these that names them:

    <pmoflow:assignment candidateGroups="Finance, Security" candidateUsers="bob" assignee="${owner}"/>
    camunda:candidateGroups="Finance" camunda:candidateUsers="bob,carol" camunda:assignee="${initiator}"
    <zeebe:assignmentDefinition assignee="=owner" candidateGroups="Finance" candidateUsers="=reviewers"/>

A value is a comma-separated list of names, a Camunda 7 expression `${...}` / `#{...}` or a
FEEL expression `=...` (Camunda 8). A string or list literal is static; a name or dotted path
is read from the instance's variables; any other expression is translated at deploy by
engine.spiff.expressions.translate (FEEL, the common JUEL forms) and evaluated by the sandbox when the
task is created. An expression that cannot be translated is a deploy problem naming the
element. A task without candidate groups takes its lane's group; a task with neither groups
nor candidate users is offered to the process's default group
(`<pmoflow:assignment candidateGroups="..."/>` in the process's extensionElements), else to
the deployment's default group (setting `PMOFLOW_DEFAULT_GROUP`, see engine.tasks.candidates).

Read here as well: the due date of Camunda 8's `<zeebe:taskSchedule dueDate="..."/>`, the
priority of `<zeebe:priorityDefinition priority="..."/>`, and Camunda 8's form reference
`<zeebe:formDefinition formId="..."/>` or `formKey`. `camunda:asyncBefore`, `asyncAfter`,
`exclusive`, `jobPriority` and `zeebe:taskSchedule followUpDate` are accepted and ignored.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from lxml import etree

from engine.core.errors import Problem
from engine.spiff.expressions.sandbox import check_expression
from engine.spiff.expressions.translate import Where, compile_expression
from engine.spiff.namespaces import BPMN_NS, CAMUNDA_NS, PMOFLOW_NS, ZEEBE_NS

EXT = f"{{{BPMN_NS}}}extensionElements"
# our key -> the attribute name every source uses
FIELDS = {"candidate_groups": "candidateGroups", "candidate_users": "candidateUsers", "assignee": "assignee"}
_JUEL = re.compile(r"^[$#]\{(.*)\}$", re.S)
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class NotSupported(ValueError):
    """An expression we cannot translate; the message says what is supported."""


def raw_assignment(node: etree._Element) -> dict[str, str]:
    """The raw text of each assignment field a task names (pmoflow:, then camunda:, then zeebe:)."""
    sources = [
        node.find(f"{EXT}/{{{PMOFLOW_NS}}}assignment"),
        None,
        node.find(f"{EXT}/{{{ZEEBE_NS}}}assignmentDefinition"),
    ]
    found: dict[str, str] = {}
    for key, attribute in FIELDS.items():
        for i, el in enumerate(sources):
            value = (
                node.get(f"{{{CAMUNDA_NS}}}{attribute}") if i == 1 else (el.get(attribute) if el is not None else None)
            )
            if value is not None and value.strip():
                found[key] = value.strip()
                break
    return found


def translate(raw: str) -> list[str] | str:
    """A static list of names, or a Python expression (str) giving them; raises NotSupported."""
    text = raw.strip()
    if text.startswith("="):
        return _expression(text[1:].strip(), "FEEL", raw)
    match = _JUEL.match(text)
    if match:
        return _expression(match.group(1).strip(), "expression", raw)
    return names(text)


def names(value: Any) -> list[str]:
    """Names from a comma-separated string or a list of strings (other items are dropped)."""
    if isinstance(value, str):
        return [n.strip() for n in value.split(",") if n.strip()]
    if isinstance(value, list | tuple | set):
        return [n.strip() for n in value if isinstance(n, str) and n.strip()]
    return []


def _expression(body: str, kind: str, raw: str) -> list[str] | str:
    """A string or a list of strings is static; `name` and `a.b.c` are read directly; any other FEEL or
    JUEL goes through engine.spiff.expressions.translate; raises NotSupported with its reason."""
    if _PATH.match(body):
        return _path_source(body)
    literal = _literal(body)
    if isinstance(literal, str) or (isinstance(literal, list) and all(isinstance(v, str) for v in literal)):
        return names(literal)
    return _compiled(raw, kind)


def _compiled(raw: str, kind: str) -> str:
    """Sandbox Python for a FEEL or JUEL expression; raises NotSupported naming why not."""
    python = compile_expression(raw, None, Where(), kind)
    if isinstance(python, Problem):
        raise NotSupported(python.message)
    return python


def assignment_config(node: etree._Element) -> dict[str, Any]:
    """Static candidate groups, candidate users and assignee, and the expressions giving the others;
    call `assignment_problems` first."""
    config: dict[str, Any] = {"candidate_groups": [], "candidate_users": [], "assignee": None, "expressions": {}}
    for key, raw in raw_assignment(node).items():
        try:
            value = translate(raw)
        except NotSupported:
            continue
        if isinstance(value, str):
            config["expressions"][key] = value
        elif key == "assignee":
            config["assignee"] = value[0] if value else None
        else:
            config[key] = value
    return config


def assignment_problems(node: etree._Element, filename: str) -> list[Problem]:
    """Assignment values we cannot use, each naming the task and its line."""
    problems = []
    for key, raw in raw_assignment(node).items():
        try:
            value = translate(raw)
        except NotSupported as err:
            problems.append(
                Problem(f"{FIELDS[key]}: {err}", filename, node.get("id"), node.sourceline, "bad_assignment")
            )
            continue
        if key == "assignee" and isinstance(value, list) and len(value) > 1:
            problems.append(
                Problem(
                    f"assignee {raw!r} names more than one user; use candidateUsers",
                    filename,
                    node.get("id"),
                    node.sourceline,
                    "bad_assignment",
                )
            )
        if isinstance(value, str) and (message := check_expression(value, "eval")):
            problems.append(
                Problem(
                    f"{FIELDS[key]} {raw!r} does not compile: {message}",
                    filename,
                    node.get("id"),
                    node.sourceline,
                    "bad_expression",
                )
            )
    return problems


def initiator_variable(process: etree._Element) -> str | None:
    """The variable Camunda 7's `camunda:initiator` on a start event names: it gets the starting user's name."""
    for event in process.iterfind(f"{{{BPMN_NS}}}startEvent"):
        name = (event.get(f"{{{CAMUNDA_NS}}}initiator") or "").strip()
        if name:
            return name
    return None


def process_default_group(process: etree._Element) -> str | None:
    """The group a process names for its tasks without lane or candidates (its own pmoflow:assignment)."""
    el = process.find(f"{EXT}/{{{PMOFLOW_NS}}}assignment")
    groups = names(el.get("candidateGroups") or "") if el is not None else []
    return groups[0] if groups else None


# ---------------------------------------------------------------- Camunda 8: due date, priority, form


def zeebe_due_date(node: etree._Element) -> str | None:
    """The raw dueDate of <zeebe:taskSchedule>, or None."""
    el = node.find(f"{EXT}/{{{ZEEBE_NS}}}taskSchedule")
    value = (el.get("dueDate") or "").strip() if el is not None else ""
    return value or None


def zeebe_priority(node: etree._Element) -> str | None:
    """The raw priority of <zeebe:priorityDefinition>, or None."""
    el = node.find(f"{EXT}/{{{ZEEBE_NS}}}priorityDefinition")
    value = (el.get("priority") or "").strip() if el is not None else ""
    return value or None


def as_python(raw: str) -> str:
    """A number, ISO text or a Camunda expression (`${x}`, `=x`) as an expression for the sandbox;
    raises NotSupported for an expression we cannot translate."""
    text = raw.strip()
    match = _JUEL.match(text)
    body = match.group(1).strip() if match else text[1:].strip() if text.startswith("=") else None
    if body is None:
        return text
    if _PATH.match(body):
        return _path_source(body)
    literal = _literal(body)
    if isinstance(literal, int | float | str):
        return repr(literal)
    return _compiled(text, "expression")


def zeebe_form(node: etree._Element) -> tuple[str | None, str | None]:
    """(form id, form key) of <zeebe:formDefinition>, either may be None."""
    el = node.find(f"{EXT}/{{{ZEEBE_NS}}}formDefinition")
    if el is None:
        return None, None
    return (el.get("formId") or "").strip() or None, (el.get("formKey") or "").strip() or None


def embedded_zeebe_forms(process: etree._Element) -> dict[str, str]:
    """Camunda 8 forms embedded in a process (<zeebe:userTaskForm id=...>JSON</...>), by element id."""
    found = {}
    for el in process.iterfind(f"{EXT}/{{{ZEEBE_NS}}}userTaskForm"):
        if (form_id := el.get("id")) and (el.text or "").strip():
            found[form_id] = el.text or ""
    return found


def _path_source(body: str) -> str:
    """`a.b.c` as the sandbox reads it: `a['b']['c']`."""
    first, *rest = body.split(".")
    return first + "".join(f"[{part!r}]" for part in rest)


def _literal(body: str) -> Any:
    """The Python literal `body` spells, or None if it is none."""
    try:
        return ast.literal_eval(body)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
