"""Camunda 7 and Camunda 8 models as they are: their expressions and data mappings, rewritten at deploy.

`translate_model` runs on a deployment's parsed BPMN tree before the other checks and rewrites,
in place, what SpiffWorkflow would not understand into what it runs (the stored file keeps the
original text):

- expression slots (sequence flow and conditional event conditions, multi-instance cardinality
  and completion condition, timer values) written in FEEL or JUEL become sandbox Python
  (engine/spiff/expressions/translate.py);
- multi-instance collections given as `camunda:collection`/`camunda:elementVariable` or
  `zeebe:loopCharacteristics` become `loopDataInputRef`/`inputDataItem` (and output);
- `zeebe:script` and `scriptFormat="feel"` script tasks get a Python script assigning the result;
- `camunda:inputOutput` and `zeebe:ioMapping` become SpiffWorkflow pre- and post-scripts
  (input parameters are assigned before the activity runs, output parameters after it; a start
  event's outputs when the instance starts: engine/spiff/model/start_event.py); a target may hold
  spaces or be a dotted path into nested objects (`from.email`, set with the sandbox's set_var);
- a Camunda 8 call activity's `zeebe:calledElement processId` becomes its `calledElement`.

Everything that cannot be expressed is a Problem naming the element and the expression."""

from __future__ import annotations

import re

from lxml import etree

from engine.core.errors import Problem
from engine.spiff.expressions.translate import (
    FEEL,
    JUEL,
    PYTHON,
    UnsupportedLanguage,
    compile_expression,
    declared_language,
    dialect,
)
from engine.spiff.extensions.camunda_mappings import (
    activities,
    dedent,
    io_mapping,
    is_name,
    prepend_script,
    problem_at,
    scripts_on_instances,
    where_of,
)
from engine.spiff.namespaces import BPMN_NS, CAMUNDA_NS, NS
from engine.spiff.xml import parent_of

EXPRESSION_SLOTS = (
    "conditionExpression",
    "condition",
    "loopCardinality",
    "completionCondition",
    "timeDuration",
    "timeDate",
    "timeCycle",
)


_TIMERS = ("timeDuration", "timeDate", "timeCycle")


_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


_BARE_ISO = re.compile(r"^(R\d*/)?([+-]?P|\d{4}-\d\d-\d\d)", re.I)


_DATA_ELEMENTS = ("dataObject", "dataObjectReference", "dataStoreReference", "dataInput", "dataOutput", "property")


_MI_ORDER = {
    "documentation": 0,
    "extensionElements": 1,
    "loopCardinality": 2,
    "loopDataInputRef": 3,
    "loopDataOutputRef": 4,
    "inputDataItem": 5,
    "outputDataItem": 6,
    "complexBehaviorDefinition": 7,
    "completionCondition": 8,
}


def translate_model(filename: str, root: etree._Element) -> list[Problem]:
    """Rewrite FEEL/JUEL expressions and Camunda/Zeebe mappings of one BPMN tree in place; the problems found."""
    names = multiword_names(root)
    problems = _expression_slots(filename, root, names)
    per_instance: dict[etree._Element, list[str]] = {}  # activity -> lines run as each instance ends
    for mi in root.iter(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics"):
        problems.extend(_collection(filename, mi, names, per_instance))
    for task in root.iter(f"{{{BPMN_NS}}}scriptTask"):
        problems.extend(_script(filename, task, names))
    for node in activities(root):
        problems.extend(io_mapping(filename, node, names))
    for node, lines in per_instance.items():
        _after_each_instance(node, lines)
    for call in root.iter(f"{{{BPMN_NS}}}callActivity"):
        problems.extend(_called_element(filename, call))
    for task in root.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        problems.extend(_decision_result_problems(filename, task))
    return problems


def multiword_names(root: etree._Element) -> tuple[str, ...]:
    """Names of data objects, inputs and outputs with spaces, which FEEL must read as one name."""
    found = {el.get("name", "").strip() for local in _DATA_ELEMENTS for el in root.iter(f"{{{BPMN_NS}}}{local}")}
    return tuple(sorted(n for n in found if " " in n))


def _expression_slots(filename: str, root: etree._Element, names: tuple[str, ...]) -> list[Problem]:
    problems = []
    for node in root.iter(*(f"{{{BPMN_NS}}}{slot}" for slot in EXPRESSION_SLOTS)):
        text = (node.text or "").strip()
        if not text:
            continue  # empty slots are the structural checks' business
        language = declared_language(node)
        local = etree.QName(node).localname
        try:
            kind = dialect(text, language)
        except UnsupportedLanguage as err:
            problems.append(problem_at(filename, node, f"{_what(local)} {text!r}: {err}"))
            node.text = "None"  # reported once: the Python checks must not report it again
            continue
        if kind == PYTHON or (local in _TIMERS and kind != JUEL and _BARE_ISO.match(text)):
            continue  # Python (and bare ISO timer values) are checked by parsing.py
        python = compile_expression(text, language, where_of(filename, node), _what(local), names)
        if isinstance(python, Problem):
            problems.append(python)
            python = "None"  # reported once: the Python checks must not report it again
        node.text = python
        if _XSI_TYPE in node.attrib:  # only a tFormalExpression may say what it is now
            node.set("language", "python")
        else:
            node.attrib.pop("language", None)
    return problems


def _what(local: str) -> str:
    return {
        "conditionExpression": "condition",
        "loopCardinality": "loop cardinality",
        "completionCondition": "completion condition",
        "timeDuration": "timer duration",
        "timeDate": "timer date",
        "timeCycle": "timer cycle",
    }.get(local, local)


def _collection(
    filename: str, mi: etree._Element, names: tuple[str, ...], per_instance: dict[etree._Element, list[str]]
) -> list[Problem]:
    zeebe = mi.find("bpmn:extensionElements/zeebe:loopCharacteristics", NS)
    z = zeebe.get if zeebe is not None else (lambda name: None)
    collection = mi.get(f"{{{CAMUNDA_NS}}}collection") or z("inputCollection")
    element = mi.get(f"{{{CAMUNDA_NS}}}elementVariable") or z("inputElement")
    out_collection, out_element = z("outputCollection"), z("outputElement")
    problems: list[Problem] = []
    if collection and mi.find("bpmn:loopDataInputRef", NS) is None and mi.find("bpmn:loopCardinality", NS) is None:
        name = _variable(collection)
        if name is None:
            problems.append(
                problem_at(
                    filename,
                    mi,
                    f"multi-instance collection {collection!r} must name a "
                    "variable (put the list into a variable first)",
                )
            )
        else:
            _add(mi, "loopDataInputRef", text=name)
            if element:
                _add(mi, "inputDataItem", id=_plain(element), name=_plain(element))  # Spiff reads the id
    if out_collection and mi.find("bpmn:loopDataOutputRef", NS) is None:
        name, item = _variable(out_collection), _variable(out_element or "")
        if name is not None and item is None and (out_element or "").strip().startswith("="):
            item = _output_expression(filename, mi, out_element or "", names, per_instance, problems)
        if name is None or item is None:
            problems.append(
                problem_at(
                    filename,
                    mi,
                    f"multi-instance output {out_collection!r}/{out_element!r} needs "
                    "a variable as outputCollection and a variable or FEEL as outputElement",
                )
            )
        else:
            _add(mi, "loopDataOutputRef", text=name)
            _add(mi, "outputDataItem", id=item, name=item)
    mi[:] = sorted(mi, key=lambda c: _MI_ORDER.get(etree.QName(c).localname, 1) if isinstance(c.tag, str) else 1)
    return problems


def _output_expression(
    filename: str,
    mi: etree._Element,
    text: str,
    names: tuple[str, ...],
    per_instance: dict[etree._Element, list[str]],
    problems: list[Problem],
) -> str | None:
    """A FEEL outputElement: computed into a variable of its own as each instance ends; that variable."""
    python = compile_expression(text, FEEL, where_of(filename, mi), "multi-instance output element", names)
    if isinstance(python, Problem):
        problems.append(python)
        return "pmoflow_output"
    activity = parent_of(mi)
    variable = "pmoflow_output_" + re.sub(r"\W", "_", activity.get("id") or "mi")
    per_instance.setdefault(activity, []).append(f"{variable} = {python}")
    return variable


def _after_each_instance(node: etree._Element, lines: list[str]) -> None:
    if etree.QName(node).localname == "scriptTask":
        script = node.find("bpmn:script", NS)
        if script is not None:
            script.text = "\n".join([dedent(script.text or ""), *lines])
        return
    prepend_script(node, "postScript", lines, first=False)
    scripts_on_instances(node)


def _variable(text: str) -> str | None:
    """The variable an expression only reads (`items`, `${items}`, `=items`), or None."""
    source = text.strip()
    if source.startswith("="):
        source = source[1:].strip()
    elif source.startswith(("${", "#{")) and source.endswith("}"):
        source = source[2:-1].strip()
    return source if is_name(source) else None


def _plain(text: str) -> str:
    return _variable(text) or text.strip()


def _add(parent: etree._Element, local: str, text: str | None = None, **attributes: str) -> etree._Element:
    child = etree.SubElement(parent, f"{{{BPMN_NS}}}{local}", attributes)
    child.text = text
    return child


def _script(filename: str, task: etree._Element, names: tuple[str, ...]) -> list[Problem]:
    zeebe = task.find("bpmn:extensionElements/zeebe:script", NS)
    script = task.find("bpmn:script", NS)
    if zeebe is not None:
        if script is not None and (script.text or "").strip():
            return []  # a script of its own wins
        return _assigning_script(filename, task, zeebe.get("expression"), zeebe.get("resultVariable"), FEEL, names)
    script_format = (task.get("scriptFormat") or "").strip()
    kind = script_format.lower()
    if not kind or "python" in kind:
        return []
    if "feel" in kind:
        text = script.text if script is not None else None
        return _assigning_script(filename, task, text, task.get(f"{{{CAMUNDA_NS}}}resultVariable"), FEEL, names)
    return [
        problem_at(
            filename,
            task,
            f"script format {script_format!r} is not supported: scripts are Python "
            "(scriptFormat python) or FEEL (scriptFormat feel with camunda:resultVariable, or zeebe:script)",
            "unsupported_script",
        )
    ]


def _assigning_script(
    filename: str,
    task: etree._Element,
    expression: str | None,
    result: str | None,
    language: str,
    names: tuple[str, ...],
) -> list[Problem]:
    python = compile_expression(expression, language, where_of(filename, task), "script expression", names)
    problems = [python] if isinstance(python, Problem) else []
    if not result or not is_name(result):
        problems.append(
            problem_at(
                filename,
                task,
                f"a FEEL script needs a result variable that is a plain name (got {result!r})",
                "unsupported_script",
            )
        )
        result = "result"
    python = "None" if problems else python  # reported once: "no script" would repeat it
    script = task.find("bpmn:script", NS)
    if script is None:
        script = _add(task, "script")
    script.text = f"{result} = {python}"
    task.set("scriptFormat", "python")
    return problems


def _called_element(filename: str, call: etree._Element) -> list[Problem]:
    zeebe = call.find("bpmn:extensionElements/zeebe:calledElement", NS)
    if zeebe is None or call.get("calledElement"):
        return []
    process_id = (zeebe.get("processId") or "").strip()
    if process_id.startswith("="):
        literal = re.fullmatch(r'=\s*"([^"\\]+)"\s*', process_id)
        if literal is None:
            return [
                problem_at(
                    filename,
                    call,
                    f"called process {process_id!r} is computed at run time; pmoflow "
                    "needs the process id (a text or a FEEL string literal)",
                    "unsupported_call",
                )
            ]
        process_id = literal.group(1)
    if process_id:
        call.set("calledElement", process_id)
    return []


_CAMUNDA_RESULT_MAPPINGS = ("resultList", "singleResult", "singleEntry", "collectEntries")


def called_decision(node: etree._Element) -> str | None:
    """The decision id of a Camunda 8 `zeebe:calledDecision`, if the task has one."""
    zeebe = node.find("bpmn:extensionElements/zeebe:calledDecision", NS)
    return (zeebe.get("decisionId") or "").strip() or None if zeebe is not None else None


def decision_result(node: etree._Element) -> tuple[str | None, str | None]:
    """(result variable, mapping) of a business rule task; (None, None): the outputs are merged into the data."""
    zeebe = node.find("bpmn:extensionElements/zeebe:calledDecision", NS)
    if zeebe is not None:
        variable = (zeebe.get("resultVariable") or "").strip()
        return (variable, "zeebe") if variable else (None, None)
    variable = (node.get(f"{{{CAMUNDA_NS}}}resultVariable") or "").strip()
    if not variable:
        return None, None
    return variable, (node.get(f"{{{CAMUNDA_NS}}}mapDecisionResult") or "resultList").strip()


def _decision_result_problems(filename: str, task: etree._Element) -> list[Problem]:
    variable, mapping = decision_result(task)
    if variable is None:
        return []
    if not is_name(variable):
        return [
            problem_at(
                filename, task, f"result variable {variable!r} must be a plain variable name", "bad_result_variable"
            )
        ]
    if mapping != "zeebe" and mapping not in _CAMUNDA_RESULT_MAPPINGS:
        return [
            problem_at(
                filename,
                task,
                f"mapDecisionResult {mapping!r} is not supported (use {', '.join(_CAMUNDA_RESULT_MAPPINGS)})",
                "bad_result_variable",
            )
        ]
    return []
