"""Camunda 7 input/output parameters and Camunda 8 io mappings, as pre- and post-scripts set at deploy."""

from __future__ import annotations

import keyword
import re
import textwrap
from collections.abc import Iterator

from lxml import etree

from engine.core.errors import Problem
from engine.spiff.expressions.translate import (
    FEEL,
    JUEL,
    Where,
    compile_expression,
    dialect,
)
from engine.spiff.namespaces import BPMN_NS, NS, SPIFF_NS

# activities whose SpiffWorkflow spec runs pre- and post-scripts
PRE_POST_TASKS = {
    "task",
    "userTask",
    "manualTask",
    "serviceTask",
    "businessRuleTask",
    "sendTask",
    "receiveTask",
    "subProcess",
    "transaction",
}


_PYTHON_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


_TARGET_PART = re.compile(r"^[^\W\d_]\w*(?: \w+)*$")


_MAX_PATH = 8


def where_of(filename: str, node: etree._Element) -> Where:
    return Where.of(filename, node)


def problem_at(filename: str, node: etree._Element, message: str, code: str = "unsupported_expression") -> Problem:
    where = where_of(filename, node)
    return Problem(message, where.file, where.element_id, where.line, code)


def scripts_on_instances(node: etree._Element) -> None:
    """Pre- and post-scripts of a multi-instance activity run on each instance (as Camunda's mappings do)."""
    mi = node.find("bpmn:multiInstanceLoopCharacteristics", NS)
    if mi is not None:
        mi.set(f"{{{SPIFF_NS}}}scriptsOnInstances", "true")


def is_name(name: str) -> bool:
    return bool(_PYTHON_NAME.match(name)) and not keyword.iskeyword(name)


def activities(root: etree._Element) -> Iterator[etree._Element]:
    for node in root.iter(f"{{{BPMN_NS}}}*"):
        if (
            node.find("bpmn:extensionElements/camunda:inputOutput", NS) is not None
            or node.find("bpmn:extensionElements/zeebe:ioMapping", NS) is not None
        ):
            yield node


def io_mapping(filename: str, node: etree._Element, names: tuple[str, ...]) -> list[Problem]:
    local = etree.QName(node).localname
    problems: list[Problem] = []
    inputs, outputs = _mapping_lines(filename, node, names, problems, zeebe=local != "callActivity")
    if problems or not (inputs or outputs):
        return problems
    if local == "scriptTask":
        script = node.find("bpmn:script", NS)
        if script is None:
            return [problem_at(filename, node, "script task has no script", "missing_script")]
        script.text = "\n".join([*inputs, dedent(script.text or ""), *outputs])
        return []
    if local == "startEvent" and not inputs:  # outputs set variables as the instance starts
        prepend_script(node, "postScript", outputs, first=False)
        return []
    if local not in PRE_POST_TASKS | {"callActivity"}:
        what = (
            "input mappings on a start event are not supported (a start event has only outputs)"
            if local == "startEvent"
            else (
                f"input/output mappings on a {local} are not supported (only on "
                "tasks, sub-processes, call activities and outputs of start events)"
            )
        )
        return [problem_at(filename, node, what, "unsupported_mapping")]
    prepend_script(node, "preScript", inputs, first=True)
    prepend_script(node, "postScript", outputs, first=False)
    scripts_on_instances(node)
    return []


def _mapping_lines(
    filename: str, node: etree._Element, names: tuple[str, ...], problems: list[Problem], zeebe: bool
) -> tuple[list[str], list[str]]:
    """`target = python` lines for the inputs and the outputs of an activity (a call activity's Zeebe
    mappings are its callee's: engine.spiff.extensions.calls applies them)."""
    inputs: list[str] = []
    outputs: list[str] = []
    found = camunda_mappings(filename, node, names, problems)
    if zeebe:
        found += zeebe_mappings(filename, node, names, problems)
    for param, target, python in found:
        (inputs if param == "input" else outputs).append(assignment(target, python))
    return inputs, outputs


def camunda_mappings(
    filename: str, node: etree._Element, names: tuple[str, ...], problems: list[Problem]
) -> list[tuple[str, str, str]]:
    """(input|output, target, sandbox Python) of an element's camunda:inputOutput."""
    found = []
    io = node.find("bpmn:extensionElements/camunda:inputOutput", NS)
    for param in io if io is not None else ():
        if not isinstance(param.tag, str):
            continue
        kind = {"inputParameter": "input", "outputParameter": "output"}.get(etree.QName(param).localname)
        if kind is None:
            continue
        value = _camunda_value(filename, param, names, problems)
        target = _target(filename, param, param.get("name"), problems)
        if value is not None and target is not None:
            found.append((kind, target, value))
    return found


def zeebe_mappings(
    filename: str, node: etree._Element, names: tuple[str, ...], problems: list[Problem]
) -> list[tuple[str, str, str]]:
    """(input|output, target, sandbox Python) of an element's zeebe:ioMapping."""
    found = []
    zeebe = node.find("bpmn:extensionElements/zeebe:ioMapping", NS)
    for param in zeebe if zeebe is not None else ():
        if not isinstance(param.tag, str):
            continue
        kind = {"input": "input", "output": "output"}.get(etree.QName(param).localname)
        if kind is None:
            continue
        value = zeebe_value(filename, param, param.get("source"), names, problems)
        target = _target(filename, param, param.get("target"), problems)
        if value is not None and target is not None:
            found.append((kind, target, value))
    return found


def _target(filename: str, param: etree._Element, target: str | None, problems: list[Problem]) -> str | None:
    """A mapping target: a variable name (words separated by single spaces allowed: `Current Vacation Status`),
    or names joined by dots, a path into nested objects (Camunda 8: `from.email`)."""
    text = (target or "").strip()
    parts = text.split(".")
    if text and len(parts) <= _MAX_PATH and all(_TARGET_PART.match(p) for p in parts):
        return text
    problems.append(
        problem_at(
            filename,
            param,
            f"mapping target {target!r} must be a variable name (letters, digits, "
            "_ and single spaces, not starting with _) or such names joined by dots",
            "unsupported_mapping",
        )
    )
    return None


def assignment(target: str, python: str) -> str:
    """The sandbox Python line that sets mapping target `target` to the value of `python`."""
    if is_name(target):
        return f"{target} = {python}"
    # spaces, keywords (`from`), dotted paths: set_var of engine.spiff.expressions.safe_builtins
    return f"set_var({target!r}, {python})"


def zeebe_value(
    filename: str, param: etree._Element, source: str | None, names: tuple[str, ...], problems: list[Problem]
) -> str | None:
    """Python for a Zeebe mapping source: `=` FEEL, else the text as a string constant."""
    text = (source or "").strip()
    if not text.startswith("="):
        return repr(text) if text else "None"
    python = compile_expression(text, FEEL, where_of(filename, param), "mapping source", names)
    if isinstance(python, Problem):
        problems.append(python)
        return None
    return python


def _camunda_value(filename: str, param: etree._Element, names: tuple[str, ...], problems: list[Problem]) -> str | None:
    """Python for a Camunda 7 parameter: text (constant or `${}`), camunda:list, camunda:map."""
    children = [c for c in param if isinstance(c.tag, str)]
    if not children:
        text = (param.text or "").strip()
        if not text:
            return "None"
        if dialect(text) != JUEL:
            return repr(text)
        python = compile_expression(text, JUEL, where_of(filename, param), "mapping", names)
        if isinstance(python, Problem):
            problems.append(python)
            return None
        return python
    child = children[0]
    local = etree.QName(child).localname
    if local == "list":
        items = [_camunda_value(filename, v, names, problems) for v in child if isinstance(v.tag, str)]
        return None if None in items else "[" + ", ".join(str(i) for i in items) + "]"
    if local == "map":
        entries = [
            (e.get("key") or "", _camunda_value(filename, e, names, problems)) for e in child if isinstance(e.tag, str)
        ]
        if any(v is None for _, v in entries):
            return None
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in entries) + "}"
    problems.append(
        problem_at(
            filename,
            param,
            f"camunda:{local} in a mapping is not supported (use text, ${{...}}, camunda:list or camunda:map)",
            "unsupported_mapping",
        )
    )
    return None


def prepend_script(node: etree._Element, which: str, lines: list[str], first: bool) -> None:
    if not lines:
        return
    extensions = node.find("bpmn:extensionElements", NS)
    if extensions is None:  # first after any documentation, as the schema orders it
        extensions = etree.Element(f"{{{BPMN_NS}}}extensionElements")
        node.insert(len(node.findall("bpmn:documentation", NS)), extensions)
    existing = extensions.find(f"spiffworkflow:{which}", NS)
    if existing is None:
        existing = etree.SubElement(extensions, f"{{{SPIFF_NS}}}{which}")
        existing.text = ""
    own = dedent(existing.text or "")
    existing.text = "\n".join([*lines, own] if first else [own, *lines]).strip("\n")


def dedent(script: str) -> str:
    return textwrap.dedent(script).strip("\n")
