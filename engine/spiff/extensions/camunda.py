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

Everything that cannot be expressed is a Problem naming the element and the expression.
"""

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
    PYTHON,
    UnsupportedLanguage,
    Where,
    compile_expression,
    declared_language,
    dialect,
)
from engine.spiff.model.xml import parent_of
from engine.spiff.namespaces import BPMN_NS, CAMUNDA_NS, NS, SPIFF_NS

EXPRESSION_SLOTS = ("conditionExpression", "condition", "loopCardinality", "completionCondition",
                    "timeDuration", "timeDate", "timeCycle")
_TIMERS = ("timeDuration", "timeDate", "timeCycle")
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
_BARE_ISO = re.compile(r"^(R\d*/)?([+-]?P|\d{4}-\d\d-\d\d)", re.I)
_DATA_ELEMENTS = ("dataObject", "dataObjectReference", "dataStoreReference", "dataInput", "dataOutput",
                  "property")
# activities whose SpiffWorkflow spec runs pre- and post-scripts
PRE_POST_TASKS = {"task", "userTask", "manualTask", "serviceTask", "businessRuleTask", "sendTask", "receiveTask",
                  "subProcess", "transaction"}
_PYTHON_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_TARGET_PART = re.compile(r"^[^\W\d_]\w*(?: \w+)*$")
_MAX_PATH = 8
_MI_ORDER = {"documentation": 0, "extensionElements": 1, "loopCardinality": 2, "loopDataInputRef": 3,
             "loopDataOutputRef": 4, "inputDataItem": 5, "outputDataItem": 6, "complexBehaviorDefinition": 7,
             "completionCondition": 8}


def translate_model(filename: str, root: etree._Element) -> list[Problem]:
    """Rewrite FEEL/JUEL expressions and Camunda/Zeebe mappings of one BPMN tree in place; the problems found."""
    names = multiword_names(root)
    problems = _expression_slots(filename, root, names)
    per_instance: dict[etree._Element, list[str]] = {}      # activity -> lines run as each instance ends
    for mi in root.iter(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics"):
        problems.extend(_collection(filename, mi, names, per_instance))
    for task in root.iter(f"{{{BPMN_NS}}}scriptTask"):
        problems.extend(_script(filename, task, names))
    for node in _activities(root):
        problems.extend(_io_mapping(filename, node, names))
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


def _where(filename: str, node: etree._Element) -> Where:
    return Where.of(filename, node)


def _problem(filename: str, node: etree._Element, message: str, code: str = "unsupported_expression") -> Problem:
    where = _where(filename, node)
    return Problem(message, where.file, where.element_id, where.line, code)


# ---------------------------------------------------------------- expression slots

def _expression_slots(filename: str, root: etree._Element, names: tuple[str, ...]) -> list[Problem]:
    problems = []
    for node in root.iter(*(f"{{{BPMN_NS}}}{slot}" for slot in EXPRESSION_SLOTS)):
        text = (node.text or "").strip()
        if not text:
            continue                         # empty slots are the structural checks' business
        language = declared_language(node)
        local = etree.QName(node).localname
        try:
            kind = dialect(text, language)
        except UnsupportedLanguage as err:
            problems.append(_problem(filename, node, f"{_what(local)} {text!r}: {err}"))
            node.text = "None"               # reported once: the Python checks must not report it again
            continue
        if kind == PYTHON or (local in _TIMERS and kind != JUEL and _BARE_ISO.match(text)):
            continue                         # Python (and bare ISO timer values) are checked by parsing.py
        python = compile_expression(text, language, _where(filename, node), _what(local), names)
        if isinstance(python, Problem):
            problems.append(python)
            python = "None"                  # reported once: the Python checks must not report it again
        node.text = python
        if _XSI_TYPE in node.attrib:         # only a tFormalExpression may say what it is now
            node.set("language", "python")
        else:
            node.attrib.pop("language", None)
    return problems


def _what(local: str) -> str:
    return {"conditionExpression": "condition", "loopCardinality": "loop cardinality",
            "completionCondition": "completion condition", "timeDuration": "timer duration",
            "timeDate": "timer date", "timeCycle": "timer cycle"}.get(local, local)


# ---------------------------------------------------------------- multi-instance collections

def _collection(filename: str, mi: etree._Element, names: tuple[str, ...],
                per_instance: dict[etree._Element, list[str]]) -> list[Problem]:
    zeebe = mi.find("bpmn:extensionElements/zeebe:loopCharacteristics", NS)
    z = zeebe.get if zeebe is not None else (lambda name: None)
    collection = mi.get(f"{{{CAMUNDA_NS}}}collection") or z("inputCollection")
    element = mi.get(f"{{{CAMUNDA_NS}}}elementVariable") or z("inputElement")
    out_collection, out_element = z("outputCollection"), z("outputElement")
    problems: list[Problem] = []
    if collection and mi.find("bpmn:loopDataInputRef", NS) is None and mi.find("bpmn:loopCardinality", NS) is None:
        name = _variable(collection)
        if name is None:
            problems.append(_problem(filename, mi, f"multi-instance collection {collection!r} must name a "
                                     "variable (put the list into a variable first)"))
        else:
            _add(mi, "loopDataInputRef", text=name)
            if element:
                _add(mi, "inputDataItem", id=_plain(element), name=_plain(element))   # Spiff reads the id
    if out_collection and mi.find("bpmn:loopDataOutputRef", NS) is None:
        name, item = _variable(out_collection), _variable(out_element or "")
        if name is not None and item is None and (out_element or "").strip().startswith("="):
            item = _output_expression(filename, mi, out_element or "", names, per_instance, problems)
        if name is None or item is None:
            problems.append(_problem(filename, mi, f"multi-instance output {out_collection!r}/{out_element!r} needs "
                                     "a variable as outputCollection and a variable or FEEL as outputElement"))
        else:
            _add(mi, "loopDataOutputRef", text=name)
            _add(mi, "outputDataItem", id=item, name=item)
    mi[:] = sorted(mi, key=lambda c: _MI_ORDER.get(etree.QName(c).localname, 1) if isinstance(c.tag, str) else 1)
    return problems


def _output_expression(filename: str, mi: etree._Element, text: str, names: tuple[str, ...],
                       per_instance: dict[etree._Element, list[str]], problems: list[Problem]) -> str | None:
    """A FEEL outputElement: computed into a variable of its own as each instance ends; that variable."""
    python = compile_expression(text, FEEL, _where(filename, mi), "multi-instance output element", names)
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
            script.text = "\n".join([_dedent(script.text or ""), *lines])
        return
    _prepend_script(node, "postScript", lines, first=False)
    _scripts_on_instances(node)


def _scripts_on_instances(node: etree._Element) -> None:
    """Pre- and post-scripts of a multi-instance activity run on each instance (as Camunda's mappings do)."""
    mi = node.find("bpmn:multiInstanceLoopCharacteristics", NS)
    if mi is not None:
        mi.set(f"{{{SPIFF_NS}}}scriptsOnInstances", "true")


def _variable(text: str) -> str | None:
    """The variable an expression only reads (`items`, `${items}`, `=items`), or None."""
    source = text.strip()
    if source.startswith("="):
        source = source[1:].strip()
    elif source.startswith(("${", "#{")) and source.endswith("}"):
        source = source[2:-1].strip()
    return source if _is_name(source) else None


def _plain(text: str) -> str:
    return _variable(text) or text.strip()


def _is_name(name: str) -> bool:
    return bool(_PYTHON_NAME.match(name)) and not keyword.iskeyword(name)


def _add(parent: etree._Element, local: str, text: str | None = None, **attributes: str) -> etree._Element:
    child = etree.SubElement(parent, f"{{{BPMN_NS}}}{local}", attributes)
    child.text = text
    return child


# ---------------------------------------------------------------- script tasks

def _script(filename: str, task: etree._Element, names: tuple[str, ...]) -> list[Problem]:
    zeebe = task.find("bpmn:extensionElements/zeebe:script", NS)
    script = task.find("bpmn:script", NS)
    if zeebe is not None:
        if script is not None and (script.text or "").strip():
            return []                                     # a script of its own wins
        return _assigning_script(filename, task, zeebe.get("expression"), zeebe.get("resultVariable"), FEEL,
                                 names)
    script_format = (task.get("scriptFormat") or "").strip()
    kind = script_format.lower()
    if not kind or "python" in kind:
        return []
    if "feel" in kind:
        text = script.text if script is not None else None
        return _assigning_script(filename, task, text, task.get(f"{{{CAMUNDA_NS}}}resultVariable"), FEEL, names)
    return [_problem(filename, task, f"script format {script_format!r} is not supported: scripts are Python "
                     "(scriptFormat python) or FEEL (scriptFormat feel with camunda:resultVariable, or zeebe:script)",
                     "unsupported_script")]


def _assigning_script(filename: str, task: etree._Element, expression: str | None, result: str | None,
                      language: str, names: tuple[str, ...]) -> list[Problem]:
    python = compile_expression(expression, language, _where(filename, task), "script expression", names)
    problems = [python] if isinstance(python, Problem) else []
    if not result or not _is_name(result):
        problems.append(_problem(filename, task, "a FEEL script needs a result variable that is a plain name "
                                 f"(got {result!r})", "unsupported_script"))
        result = "result"
    python = "None" if problems else python          # reported once: "no script" would repeat it
    script = task.find("bpmn:script", NS)
    if script is None:
        script = _add(task, "script")
    script.text = f"{result} = {python}"
    task.set("scriptFormat", "python")
    return problems


# ---------------------------------------------------------------- input/output mappings

def _activities(root: etree._Element) -> Iterator[etree._Element]:
    for node in root.iter(f"{{{BPMN_NS}}}*"):
        if node.find("bpmn:extensionElements/camunda:inputOutput", NS) is not None or \
                node.find("bpmn:extensionElements/zeebe:ioMapping", NS) is not None:
            yield node


def _io_mapping(filename: str, node: etree._Element, names: tuple[str, ...]) -> list[Problem]:
    local = etree.QName(node).localname
    problems: list[Problem] = []
    inputs, outputs = _mapping_lines(filename, node, names, problems, zeebe=local != "callActivity")
    if problems or not (inputs or outputs):
        return problems
    if local == "scriptTask":
        script = node.find("bpmn:script", NS)
        if script is None:
            return [_problem(filename, node, "script task has no script", "missing_script")]
        script.text = "\n".join([*inputs, _dedent(script.text or ""), *outputs])
        return []
    if local == "startEvent" and not inputs:          # outputs set variables as the instance starts
        _prepend_script(node, "postScript", outputs, first=False)
        return []
    if local not in PRE_POST_TASKS | {"callActivity"}:
        what = "input mappings on a start event are not supported (a start event has only outputs)" \
            if local == "startEvent" else (f"input/output mappings on a {local} are not supported (only on "
                                           "tasks, sub-processes, call activities and outputs of start events)")
        return [_problem(filename, node, what, "unsupported_mapping")]
    _prepend_script(node, "preScript", inputs, first=True)
    _prepend_script(node, "postScript", outputs, first=False)
    _scripts_on_instances(node)
    return []


def _mapping_lines(filename: str, node: etree._Element, names: tuple[str, ...],
                   problems: list[Problem], zeebe: bool) -> tuple[list[str], list[str]]:
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


def camunda_mappings(filename: str, node: etree._Element, names: tuple[str, ...],
                     problems: list[Problem]) -> list[tuple[str, str, str]]:
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


def zeebe_mappings(filename: str, node: etree._Element, names: tuple[str, ...],
                   problems: list[Problem]) -> list[tuple[str, str, str]]:
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
    problems.append(_problem(filename, param, f"mapping target {target!r} must be a variable name (letters, digits, "
                             "_ and single spaces, not starting with _) or such names joined by dots",
                             "unsupported_mapping"))
    return None


def assignment(target: str, python: str) -> str:
    """The sandbox Python line that sets mapping target `target` to the value of `python`."""
    if _is_name(target):
        return f"{target} = {python}"
    # spaces, keywords (`from`), dotted paths: set_var of engine.spiff.expressions.safe_builtins
    return f"set_var({target!r}, {python})"


def zeebe_value(filename: str, param: etree._Element, source: str | None, names: tuple[str, ...],
                problems: list[Problem]) -> str | None:
    """Python for a Zeebe mapping source: `=` FEEL, else the text as a string constant."""
    text = (source or "").strip()
    if not text.startswith("="):
        return repr(text) if text else "None"
    python = compile_expression(text, FEEL, _where(filename, param), "mapping source", names)
    if isinstance(python, Problem):
        problems.append(python)
        return None
    return python


def _camunda_value(filename: str, param: etree._Element, names: tuple[str, ...],
                   problems: list[Problem]) -> str | None:
    """Python for a Camunda 7 parameter: text (constant or `${}`), camunda:list, camunda:map."""
    children = [c for c in param if isinstance(c.tag, str)]
    if not children:
        text = (param.text or "").strip()
        if not text:
            return "None"
        if dialect(text) != JUEL:
            return repr(text)
        python = compile_expression(text, JUEL, _where(filename, param), "mapping", names)
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
        entries = [(e.get("key") or "", _camunda_value(filename, e, names, problems))
                   for e in child if isinstance(e.tag, str)]
        if any(v is None for _, v in entries):
            return None
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in entries) + "}"
    problems.append(_problem(filename, param, f"camunda:{local} in a mapping is not supported (use text, "
                             "${...}, camunda:list or camunda:map)", "unsupported_mapping"))
    return None


def _prepend_script(node: etree._Element, which: str, lines: list[str], first: bool) -> None:
    if not lines:
        return
    extensions = node.find("bpmn:extensionElements", NS)
    if extensions is None:                   # first after any documentation, as the schema orders it
        extensions = etree.Element(f"{{{BPMN_NS}}}extensionElements")
        node.insert(len(node.findall("bpmn:documentation", NS)), extensions)
    existing = extensions.find(f"spiffworkflow:{which}", NS)
    if existing is None:
        existing = etree.SubElement(extensions, f"{{{SPIFF_NS}}}{which}")
        existing.text = ""
    own = _dedent(existing.text or "")
    existing.text = "\n".join([*lines, own] if first else [own, *lines]).strip("\n")


def _dedent(script: str) -> str:
    return textwrap.dedent(script).strip("\n")


# ---------------------------------------------------------------- call activities (Camunda 8)

def _called_element(filename: str, call: etree._Element) -> list[Problem]:
    zeebe = call.find("bpmn:extensionElements/zeebe:calledElement", NS)
    if zeebe is None or call.get("calledElement"):
        return []
    process_id = (zeebe.get("processId") or "").strip()
    if process_id.startswith("="):
        literal = re.fullmatch(r'=\s*"([^"\\]+)"\s*', process_id)
        if literal is None:
            return [_problem(filename, call, f"called process {process_id!r} is computed at run time; pmoflow "
                             "needs the process id (a text or a FEEL string literal)", "unsupported_call")]
        process_id = literal.group(1)
    if process_id:
        call.set("calledElement", process_id)
    return []


# ---------------------------------------------------------------- business rule tasks

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
    if not _is_name(variable):
        return [_problem(filename, task, f"result variable {variable!r} must be a plain variable name",
                         "bad_result_variable")]
    if mapping != "zeebe" and mapping not in _CAMUNDA_RESULT_MAPPINGS:
        return [_problem(filename, task, f"mapDecisionResult {mapping!r} is not supported (use "
                         f"{', '.join(_CAMUNDA_RESULT_MAPPINGS)})", "bad_result_variable")]
    return []
