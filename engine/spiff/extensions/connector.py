"""Service tasks with the built-in HTTP connector (`pmoflow:connector`).

A service task that carries a connector does not run inline: it waits, like a human task,
until the worker has made the call (engine/integration/connectors.py) and completes it with the
response mapped to variables. In BPMN::

    <bpmn:serviceTask id="create_erp_project" name="Create the project in the ERP">
      <bpmn:extensionElements>
        <pmoflow:connector method="POST" url="https://erp.example.com/api/projects/{department}"
                           timeout="10" retries="3" resultVariable="erp_response">
          <pmoflow:header name="Accept" value="application/json"/>
          <pmoflow:header name="Authorization" secret="ERP_TOKEN"/>
          <pmoflow:body>{"title": title, "budget": budget}</pmoflow:body>
          <pmoflow:output variable="erp_project_id" expression="response['body']['id']"/>
        </pmoflow:connector>
      </bpmn:extensionElements>
    </bpmn:serviceTask>

- `url`: http or https; `{name}` is replaced by the variable's value, URL-quoted.
- `pmoflow:header`: a literal `value` (with `{name}` placeholders) or a `secret`, read from
  the environment variable `PMOFLOW_CONNECTOR_SECRET_<NAME>` by the worker when it sends, so
  it is never stored in the definition, the job or the audit trail.
- `pmoflow:body`: a sandboxed Python expression over the variables; its value is sent as JSON.
- `pmoflow:output`: a sandboxed expression over `response` (`status`, `headers`, `body`)
  and the variables; `resultVariable` keeps the whole response (status, headers, body).
- `timeout` in seconds (1 to 120, default 10); `retries` after the first attempt (0 to 10,
  default 3), with exponential backoff; when they run out the instance gets an incident.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from SpiffWorkflow.spiff.serializer.task_spec import SpiffBpmnTaskConverter
from SpiffWorkflow.spiff.specs.spiff_task import SpiffBpmnTask

from engine.core.errors import Problem
from engine.spiff.expressions.sandbox import check_expression
from engine.spiff.namespaces import PMOFLOW_NS

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 3


def connector_node(task: etree._Element) -> etree._Element | None:
    """The task's `pmoflow:connector` element, if it has one."""
    extensions = _extensions(task)
    return extensions.find(f"{{{PMOFLOW_NS}}}connector") if extensions is not None else None


def _extensions(task: etree._Element) -> etree._Element | None:
    return task.find("{http://www.omg.org/spec/BPMN/20100524/MODEL}extensionElements")


def read_config(node: etree._Element) -> dict[str, Any]:
    """The connector settings as plain data (call `connector_problems` first)."""
    headers = [
        {"name": h.get("name", ""), "value": h.get("value"), "secret": h.get("secret")}
        for h in node.iterfind(f"{{{PMOFLOW_NS}}}header")
    ]
    outputs = [
        {"variable": o.get("variable", ""), "expression": o.get("expression", "")}
        for o in node.iterfind(f"{{{PMOFLOW_NS}}}output")
    ]
    body = node.findtext(f"{{{PMOFLOW_NS}}}body")
    return {
        "method": (node.get("method") or "GET").upper(),
        "url": (node.get("url") or "").strip(),
        "timeout": float(node.get("timeout") or DEFAULT_TIMEOUT),
        "retries": int(node.get("retries") or DEFAULT_RETRIES),
        "headers": headers,
        "body": body.strip() if body and body.strip() else None,
        "outputs": outputs,
        "result_variable": node.get("resultVariable") or None,
    }


def connector_problems(filename: str, task: etree._Element) -> list[Problem]:
    """Everything wrong with a service task's connector, each naming the element and line."""
    node = connector_node(task)
    if node is None:
        return []
    element = task.get("id")

    def problem(message: str, where: etree._Element = node) -> Problem:
        return Problem(f"HTTP connector: {message}", filename, element, where.sourceline, "bad_connector")

    problems: list[Problem] = []
    method = (node.get("method") or "GET").upper()
    if method not in METHODS:
        problems.append(problem(f"method {method!r} is not one of {', '.join(METHODS)}"))
    url = (node.get("url") or "").strip()
    parts = urlsplit(PLACEHOLDER.sub("x", url))
    if not url:
        problems.append(problem("the url is missing"))
    elif parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(problem(f"url {url!r} must be an absolute http or https address"))
    elif parts.username or parts.password:
        problems.append(problem("credentials in the url are not allowed; use a header with a secret"))
    problems.extend(
        problem(f"url placeholder {{{name}}} is not a variable name")
        for name in PLACEHOLDER.findall(url)
        if not IDENTIFIER.match(name)
    )
    for attr, low, high, kind in (("timeout", 1, 120, float), ("retries", 0, 10, int)):
        raw = node.get(attr)
        if raw is None:
            continue
        try:
            value = kind(raw)
        except ValueError:
            problems.append(problem(f"{attr} {raw!r} is not a number"))
            continue
        if not low <= value <= high:
            problems.append(problem(f"{attr} must be between {low} and {high}, not {raw}"))
    for header in node.iterfind(f"{{{PMOFLOW_NS}}}header"):
        name = header.get("name") or ""
        if not HEADER_NAME.match(name):
            problems.append(problem(f"header name {name!r} is not a valid HTTP header name", header))
        if (header.get("value") is None) == (header.get("secret") is None):
            problems.append(problem(f"header {name!r} needs either a value or a secret", header))
        secret = header.get("secret")
        if secret is not None and not SECRET_NAME.match(secret):
            problems.append(problem(f"secret name {secret!r} must be upper case letters, digits and _", header))
    body = node.find(f"{{{PMOFLOW_NS}}}body")
    if body is not None and (body.text or "").strip():
        if method in ("GET", "DELETE"):
            problems.append(problem(f"a {method} request has no body", body))
        elif (message := check_expression((body.text or "").strip(), "eval")) is not None:
            problems.append(problem(f"body does not compile: {message}", body))
    for output in node.iterfind(f"{{{PMOFLOW_NS}}}output"):
        variable, expression = output.get("variable") or "", (output.get("expression") or "").strip()
        if not IDENTIFIER.match(variable):
            problems.append(problem(f"output variable {variable!r} is not a variable name", output))
        if not expression:
            problems.append(problem(f"output {variable!r} has no expression", output))
        elif (message := check_expression(expression, "eval")) is not None:
            problems.append(problem(f"output {variable!r} does not compile: {message}", output))
    result = node.get("resultVariable")
    if result is not None and not IDENTIFIER.match(result):
        problems.append(problem(f"resultVariable {result!r} is not a variable name"))
    return problems


class PmoflowConnectorTask(SpiffBpmnTask):
    """A service task that waits for the worker's HTTP call; it is completed by engine.integration.connectors."""

    def __init__(self, wf_spec: Any, name: str, connector: dict[str, Any], **kwargs: Any) -> None:
        kwargs["manual"] = True  # waits in READY until the call's outcome completes it
        super().__init__(wf_spec, name, **kwargs)
        self.connector = connector


class PmoflowConnectorTaskConverter(SpiffBpmnTaskConverter):
    """Serializes the task spec with its connector settings."""

    def to_dict(self, spec: PmoflowConnectorTask) -> dict[str, Any]:
        dct: dict[str, Any] = super().to_dict(spec)
        dct["connector"] = spec.connector
        return dct

    def from_dict(self, dct: dict[str, Any]) -> PmoflowConnectorTask:
        spec: PmoflowConnectorTask = self.task_spec_from_dict(dct)
        return spec
