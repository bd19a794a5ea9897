"""External tasks: service (send, business rule, script) tasks that a system fetches and completes.

A task with a topic waits in the workflow like a human task until a worker outside the
engine fetches it, locks it and reports the outcome through the API (engine/integration/external_tasks.py).
The topic is read from what each modeler writes::

    <bpmn:serviceTask id="bill" pmoflow:topic="billing"/>                               pmoflow (our designer)
    <bpmn:serviceTask id="bill" camunda:type="external" camunda:topic="billing"/>       Camunda 7
    <bpmn:serviceTask id="bill"><bpmn:extensionElements>
        <zeebe:taskDefinition type="billing" retries="3"/></bpmn:extensionElements>     Camunda 8
    <bpmn:serviceTask id="bill"><bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="billing" resultVariable="bill">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="amount" type="int" value="budget * 2"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator></bpmn:extensionElements>                   SpiffWorkflow
    <bpmn:serviceTask id="bill" operationRef="op_bill"/>   plain BPMN: the topic is the operation's name
    <bpmn:serviceTask id="bill" camunda:delegateExpression="${billing}"/>              Camunda 7 Java delegates:
    <bpmn:serviceTask id="bill" camunda:class="com.acme.Billing"/>                     the topic is what they name
    <bpmn:serviceTask id="bill" camunda:expression="${billing.charge(amount)}"/>       (billing, Billing,
                                                                                       billing.charge)

Spiff operators' parameters are Python expressions, evaluated when the task becomes ready
and handed to the worker as variables; their `resultVariable` receives the variables the
worker completes with (as one object). A Java implementation (`camunda:class`,
`delegateExpression`, `expression`, in Camunda's or Activiti's namespace) cannot run here, so
its task becomes an external task whose topic is the bean or class it names: a worker for that
topic does the bean's work. Service tasks with nothing to run (or with Camunda Connect) are
deploy problems that say what to add.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.serializer.task_spec import SpiffBpmnTaskConverter
from SpiffWorkflow.spiff.specs.spiff_task import SpiffBpmnTask

from engine.core.errors import Problem
from engine.spiff.expressions.sandbox import check_expression
from engine.spiff.namespaces import BPMN_NS, CAMUNDA_NS, NS, PMOFLOW_NS

ACTIVITI_NS = "http://activiti.org/bpmn"  # Camunda 7 still reads models written for Activiti

# Elements that may be external tasks (Camunda 7: service, send and business rule tasks;
# Camunda 8 also lets a job worker implement a script task).
EXTERNAL_TAGS = ("serviceTask", "sendTask", "businessRuleTask", "scriptTask")
TOPIC_LIMIT = 200
MAX_RETRIES = 100
JAVA_ATTRIBUTES = ("class", "delegateExpression", "expression")


@dataclass(frozen=True)
class ExternalWork:
    """A ready external task, as the runtime reports it after a step."""

    id: str
    process: str
    element_id: str
    name: str
    config: dict[str, Any]
    data: dict[str, Any]


# ---------------------------------------------------------------- reading the model


def _ext(node: etree._Element, path: str) -> etree._Element | None:
    return node.find(f"bpmn:extensionElements/{path}", NS)


def _camunda(node: etree._Element, name: str) -> str | None:
    """A Camunda 7 attribute, in Camunda's namespace or Activiti's."""
    value = node.get(f"{{{CAMUNDA_NS}}}{name}")
    return value if value is not None else node.get(f"{{{ACTIVITI_NS}}}{name}")


def _literal_type(raw: str) -> str | None:
    """A Zeebe job type: literal text, or a FEEL string literal after `=`; None for a real expression."""
    text = raw.strip()
    if not text.startswith("="):
        return text
    inner = text[1:].strip()
    if len(inner) >= 2 and inner[0] == inner[-1] == '"' and '"' not in inner[1:-1]:
        return inner[1:-1]
    return None


def _operation_name(node: etree._Element) -> str | None:
    """The name (or id) of the bpmn:operation a service task's operationRef names."""
    ref = (node.get("operationRef") or "").strip()
    if not ref:
        return None
    local = ref.split(":")[-1]
    for operation in node.getroottree().getroot().iterfind("bpmn:interface/bpmn:operation", NS):
        if operation.get("id") == local:
            return (operation.get("name") or local).strip() or local
    return local


_BEAN = re.compile(
    r"^[$#]\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)*)\s*(?:\(.*\))?\s*\}$", re.DOTALL
)
_CLASS = re.compile(r"^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$")


def java_topic(attribute: str, value: str) -> str | None:
    """The topic a Java implementation stands for: the bean (`${archiveService}` -> archiveService, `${bean.charge(x)}`
    -> bean.charge) or the simple class name (`com.acme.Charge` -> Charge); None if it names neither."""
    text = value.strip()
    if attribute == "class":
        return text.rsplit(".", 1)[-1] if _CLASS.match(text) else None
    match = _BEAN.match(text)
    return re.sub(r"\s+", "", match.group(1)) if match else None


def _java(node: etree._Element) -> str | None:
    """The Java implementation attribute a Camunda 7 task carries (class, delegateExpression, expression), if any."""
    if etree.QName(node).localname not in ("serviceTask", "sendTask", "businessRuleTask"):
        return None
    return next((a for a in JAVA_ATTRIBUTES if (_camunda(node, a) or "").strip()), None)


def topic_source(node: etree._Element) -> tuple[str, str | None] | None:
    """(where the topic comes from, the topic) if the element is an external task, else None."""
    if etree.QName(node).localname not in EXTERNAL_TAGS:
        return None
    if node.get(f"{{{PMOFLOW_NS}}}topic") is not None:
        return "pmoflow:topic", node.get(f"{{{PMOFLOW_NS}}}topic")
    if _camunda(node, "type") == "external" or (
        _camunda(node, "topic") is not None and not any(_camunda(node, a) for a in JAVA_ATTRIBUTES)
    ):
        return "camunda:topic", _camunda(node, "topic")
    definition = _ext(node, "zeebe:taskDefinition")
    if definition is not None:
        raw = definition.get("type")
        return "zeebe:taskDefinition", (_literal_type(raw) if raw is not None else None)
    operator = _ext(node, "spiffworkflow:serviceTaskOperator")
    if operator is not None:
        return "spiffworkflow:serviceTaskOperator", operator.get("id")
    if (java := _java(node)) is not None:
        return f"camunda:{java}", java_topic(java, _camunda(node, java) or "")
    if etree.QName(node).localname == "serviceTask" and (name := _operation_name(node)) is not None:
        return "operationRef", name
    return None


def is_external(node: etree._Element) -> bool:
    return topic_source(node) is not None


def external_config(node: etree._Element) -> dict[str, Any]:
    """The external task's settings as plain data (call `external_problems` first)."""
    source = topic_source(node)
    assert source is not None
    config: dict[str, Any] = {
        "topic": (source[1] or "").strip(),
        "source": source[0],
        "retries": None,
        "parameters": {},
        "result_variable": None,
    }
    if source[0].startswith("camunda:") and (java := _java(node)) is not None and source[0] == f"camunda:{java}":
        config["implementation"] = (_camunda(node, java) or "").strip()  # what the model named, for workers
    definition = _ext(node, "zeebe:taskDefinition")
    if source[0] == "zeebe:taskDefinition" and definition is not None and definition.get("retries"):
        config["retries"] = int(definition.get("retries", "0").strip())
    operator = _ext(node, "spiffworkflow:serviceTaskOperator")
    if source[0] == "spiffworkflow:serviceTaskOperator" and operator is not None:
        config["parameters"] = {
            p.get("id"): (p.get("value") or "").strip()
            for p in operator.iterfind(".//spiffworkflow:parameter", NS)
            if p.get("id")
        }
        config["result_variable"] = (operator.get("resultVariable") or "").strip() or None
    return config


def external_problems(filename: str, node: etree._Element) -> list[Problem]:
    """Everything wrong with an external task's settings, each naming the element and line."""
    source = topic_source(node)
    if source is None:
        return []
    where = (filename, node.get("id"), node.sourceline)
    kind, topic = source
    problems: list[Problem] = []

    def problem(message: str, code: str = "bad_external_task") -> None:
        problems.append(Problem(f"external task: {message}", *where, code))

    if (
        topic is None
        and kind == "zeebe:taskDefinition"
        and (definition := _ext(node, "zeebe:taskDefinition")) is not None
        and definition.get("type")
    ):
        problem('a job type computed by an expression is not supported; write the type as text (e.g. type="billing")')
    elif topic is None and kind.startswith("camunda:") and kind[len("camunda:") :] in JAVA_ATTRIBUTES:
        java = kind[len("camunda:") :]
        problem(
            f"{kind}={_camunda(node, java)!r} names no bean or class to use as the topic; add "
            'camunda:type="external" with a camunda:topic (or pmoflow:topic) for a worker to fetch'
        )
    elif not (topic or "").strip():
        what = {
            "camunda:topic": 'camunda:type="external" needs a camunda:topic',
            "zeebe:taskDefinition": "zeebe:taskDefinition needs a type",
        }.get(kind, f"{kind} is empty")
        problem(f"{what}; the topic is what workers fetch")
    elif len((topic or "").strip()) > TOPIC_LIMIT:
        problem(f"the topic is longer than {TOPIC_LIMIT} characters")
    definition = _ext(node, "zeebe:taskDefinition")
    retries = definition.get("retries") if kind == "zeebe:taskDefinition" and definition is not None else None
    if retries is not None and retries.strip():
        if not retries.strip().isdigit() or int(retries.strip()) > MAX_RETRIES:
            problem(f"retries {retries!r} must be a whole number from 0 to {MAX_RETRIES}")
    if _ext(node, "pmoflow:connector") is not None:
        problem("it has both a topic and an HTTP connector (pmoflow:connector); keep one")
    local = etree.QName(node).localname
    if local == "scriptTask" and (node.findtext("bpmn:script", None, NS) or "").strip():
        problem("a script task with a topic has a script too; a worker does the task, so remove one")
    if local == "businessRuleTask" and (
        _camunda(node, "decisionRef")
        or _ext(node, "zeebe:calledDecision") is not None
        or _ext(node, "pmoflow:decision") is not None
    ):
        problem("a business rule task with a topic names a decision too; keep one")
    operator = _ext(node, "spiffworkflow:serviceTaskOperator") if kind == "spiffworkflow:serviceTaskOperator" else None
    if operator is not None:
        for param in operator.iterfind(".//spiffworkflow:parameter", NS):
            name, value = param.get("id") or "", (param.get("value") or "").strip()
            if not name.isidentifier() or name.startswith("_"):
                problem(f"parameter id {name!r} is not a variable name")
            elif not value:
                problem(f"parameter {name!r} has no value")
            elif (message := check_expression(value, "eval")) is not None:
                problem(f"parameter {name!r} ({value}) does not compile: {message}")
        result = operator.get("resultVariable")
        if result and (not result.isidentifier() or result.startswith("_")):
            problem(f"resultVariable {result!r} is not a variable name")
    return problems


def implementation_problems(filename: str, node: etree._Element) -> list[Problem]:
    """A service task with nothing pmoflow can run (no topic, no connector): what to add instead."""
    where = (filename, node.get("id"), node.sourceline)
    if _ext(node, "camunda:connector") is not None:
        return [
            Problem(
                "Camunda Connect connectors cannot run in pmoflow; use an HTTP connector "
                "(pmoflow:connector) or an external task topic (pmoflow:topic)",
                *where,
                "no_implementation",
            )
        ]
    return [
        Problem(
            "service task has nothing to run: add an external task topic (pmoflow:topic, camunda:topic "
            "or zeebe:taskDefinition) for a worker to fetch, or HTTP connector settings "
            "(pmoflow:connector)",
            *where,
            "no_implementation",
        )
    ]


# ---------------------------------------------------------------- specs


class PmoflowExternalTask(SpiffBpmnTask):
    """A task that waits in READY until a worker completes it (or throws a BPMN error at it)."""

    def __init__(self, wf_spec: Any, name: str, external: dict[str, Any], **kwargs: Any) -> None:
        kwargs["manual"] = True
        super().__init__(wf_spec, name, **kwargs)
        self.external = external


class PmoflowExternalTaskConverter(SpiffBpmnTaskConverter):
    """Serializes the task spec with its external-task settings."""

    def to_dict(self, spec: PmoflowExternalTask) -> dict[str, Any]:
        dct: dict[str, Any] = super().to_dict(spec)
        dct["external"] = spec.external
        return dct

    def from_dict(self, dct: dict[str, Any]) -> PmoflowExternalTask:
        spec: PmoflowExternalTask = self.task_spec_from_dict(dct)
        return spec


def external_parser(base: type) -> type:
    """`base` (a task parser class) that builds an external task when the element has a topic."""

    class ExternalOr(base):
        def create_task(self) -> Any:
            if not is_external(self.node):
                return super().create_task()
            problems = external_problems(self.filename, self.node)
            if problems:
                raise ValidationException(problems[0].message, node=self.node, file_name=self.filename)
            extensions = self.parse_extensions()
            return PmoflowExternalTask(
                self.spec,
                self.bpmn_id,
                external=external_config(self.node),
                prescript=extensions.get("preScript"),
                postscript=extensions.get("postScript"),
                **self.bpmn_attributes,
            )

    ExternalOr.__name__ = ExternalOr.__qualname__ = f"External{base.__name__}"
    return ExternalOr


def with_external_tasks(overrides: Mapping[str, tuple[type, type]]) -> dict[str, tuple[type, type]]:
    """A parser's OVERRIDE_PARSER_CLASSES with every task kind that may carry a topic wrapped."""
    wrapped = dict(overrides)
    for tag in EXTERNAL_TAGS:
        key = f"{{{BPMN_NS}}}{tag}"
        if key in wrapped:
            parser, spec = wrapped[key]
            wrapped[key] = (external_parser(parser), spec)
    return wrapped


def uses_external_tasks(spec: Any, subprocess_specs: Mapping[str, Any]) -> bool:
    """Whether a process (or a process it calls) has external tasks; remembered on the shared spec."""
    known = getattr(spec, "_pmoflow_external", None)
    if known is None:
        known = any(
            isinstance(t, PmoflowExternalTask)
            for s in (spec, *subprocess_specs.values())
            for t in s.task_specs.values()
        )
        spec._pmoflow_external = known
    return bool(known)
