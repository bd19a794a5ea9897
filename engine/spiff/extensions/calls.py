"""Call activities: which version of the called process runs, and which variables go in and out.

**Binding** (read at deploy; the callee's spec is embedded in the caller's spec, so an instance
runs the same callee for its whole life):

- `latest` (the default; `camunda:calledElementBinding="latest"`, `pmoflow:binding="latest"`): the
  callee in the same deployment if it is there, else the latest version published *when the caller
  is deployed*. A callee published later is picked up by deploying the caller again.
- `deployment`: the callee must be in the same deployment.
- `version` (`camunda:calledElementVersion="3"`, `pmoflow:version="3"`): that published version.

A callee that cannot be found is a deploy problem naming the call activity.

**Variables**: with no mappings every variable goes in and every variable of the callee comes
back (SpiffWorkflow's behaviour). `camunda:in source|sourceExpression target` and
`camunda:out` limit that to the mapped variables (`<camunda:in variables="all"/>` adds all);
Camunda 8's `zeebe:ioMapping` inputs are added to what goes in and its outputs are read from the
callee's variables; `propagateAllParentVariables="false"` / `propagateAllChildVariables="false"`
on `zeebe:calledElement` limit each direction to the mapped variables.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from lxml import etree
from SpiffWorkflow.spiff.parser.task_spec import CallActivityParser
from SpiffWorkflow.spiff.serializer.task_spec import SubWorkflowTaskConverter
from SpiffWorkflow.spiff.specs.defaults import CallActivity

from engine.core.errors import Problem
from engine.spiff.expressions.safe_builtins import assign_path
from engine.spiff.expressions.translate import JUEL, Where, compile_expression
from engine.spiff.extensions.camunda import multiword_names
from engine.spiff.extensions.camunda_mappings import zeebe_mappings
from engine.spiff.namespaces import CAMUNDA_NS, NS, PMOFLOW_NS

BINDINGS = ("latest", "deployment", "version")


@dataclass(frozen=True)
class PublishedProcess:
    """A process definition already published, as a callee of a later deployment needs it."""

    key: str
    version: int
    spec_json: str
    user_tasks: list[dict[str, Any]]
    forms: dict[str, Any]
    content_hash: str


Resolver = Callable[[str, int | None], PublishedProcess | None]  # (key, version or None for the latest)


@dataclass(frozen=True)
class Binding:
    key: str
    kind: str
    version: int | None = None


def binding_of(node: etree._Element) -> Binding | str:
    """The call activity's binding, or the reason it is not valid."""
    key = (node.get("calledElement") or "").strip()
    kind = (
        node.get(f"{{{PMOFLOW_NS}}}binding") or node.get(f"{{{CAMUNDA_NS}}}calledElementBinding") or "latest"
    ).strip()
    raw = node.get(f"{{{PMOFLOW_NS}}}version") or node.get(f"{{{CAMUNDA_NS}}}calledElementVersion")
    if kind == "versionTag":
        return "binding 'versionTag' is not supported (use latest, deployment or version)"
    if kind not in BINDINGS:
        return f"binding {kind!r} is not one of {', '.join(BINDINGS)}"
    if kind != "version":
        return Binding(key, kind)
    if raw is None or not raw.strip().isdigit() or int(raw) < 1:
        return f"binding 'version' needs a version number (calledElementVersion), not {raw!r}"
    return Binding(key, kind, int(raw))


def call_problems(
    node: etree._Element,
    where: tuple[str, str | None, int | None],
    local: set[str],
    published: Resolver | None,
    callees: dict[str, PublishedProcess],
) -> list[Problem]:
    """Whether the callee can be found; records published callees in `callees` (key -> the one embedded)."""
    if not (node.get("calledElement") or "").strip():
        return [Problem("call activity has no calledElement", *where, "missing_callee")]
    key = (node.get("calledElement") or "").strip()
    if key.startswith("=") or "${" in key or "#{" in key:
        return [
            Problem(
                f"called process {key!r} is computed at run time; pmoflow needs the process id",
                *where,
                "unsupported_call",
            )
        ]
    java = [
        a
        for a in ("variableMappingClass", "variableMappingDelegateExpression")
        if node.get(f"{{{CAMUNDA_NS}}}{a}") is not None
    ]
    if java:
        return [
            Problem(
                f"camunda:{java[0]} needs Java; use camunda:in and camunda:out mappings", *where, "unsupported_mapping"
            )
        ]
    binding = binding_of(node)
    if isinstance(binding, str):
        return [Problem(f"call activity: {binding}", *where, "bad_binding")]
    problems = _mapping_problems(node, where[0])
    if binding.key in local:
        if binding.kind == "version":
            problems.append(
                Problem(
                    f"call activity pins version {binding.version} of {binding.key!r}, which this "
                    "deployment also contains; deploy the caller separately",
                    *where,
                    "bad_binding",
                )
            )
        return problems
    if binding.kind == "deployment" or published is None:
        return [
            *problems,
            Problem(
                f"call activity calls process {binding.key!r}, which is not in this deployment",
                *where,
                "missing_callee",
            ),
        ]
    callee = published(binding.key, binding.version)
    if callee is None:
        which = f"version {binding.version} of " if binding.version else ""
        return [
            *problems,
            Problem(
                f"call activity calls {which}process {binding.key!r}, which is neither in this "
                "deployment nor published",
                *where,
                "missing_callee",
            ),
        ]
    other = callees.setdefault(binding.key, callee)
    if other.version != callee.version:
        problems.append(
            Problem(
                f"process {binding.key!r} is called in versions {other.version} and {callee.version} "
                "in one deployment; call one version",
                *where,
                "bad_binding",
            )
        )
    return problems


def _mapping_problems(node: etree._Element, filename: str) -> list[Problem]:
    problems: list[Problem] = []
    read_mappings(node, filename, problems)
    return problems


# ---------------------------------------------------------------- embedding published callees


def embed_callees(
    subprocess_specs: dict[str, Any], missing: set[str], callees: dict[str, PublishedProcess]
) -> tuple[list[PublishedProcess], dict[str, Any]]:
    """Add the specs of published callees (and theirs) to serialized `subprocess_specs`.

    Returns the callees embedded and their timer settings; raises KeyError naming a callee that
    was not resolved, ValueError when one process would be embedded in two versions.
    """
    embedded, timers = [], {}
    for key in sorted(missing):
        callee = callees[key]
        stored = json.loads(callee.spec_json)
        for name, spec in [(key, stored["spec"]), *stored["subprocess_specs"].items()]:
            if name in subprocess_specs and subprocess_specs[name] != spec:
                raise ValueError(
                    f"process {name!r} would run in two versions (called from {key!r} version "
                    f"{callee.version} and from this deployment)"
                )
            subprocess_specs[name] = spec
        timers.update(stored.get("pmoflow", {}).get("timers", {}))
        embedded.append(callee)
    return embedded, timers


# ---------------------------------------------------------------- variable mappings


@dataclass(frozen=True)
class Mappings:
    inputs: list[dict[str, str]]  # {"target", and "source" (a variable) or "expression" (sandbox Python)}
    outputs: list[dict[str, str]]
    all_in: bool = True
    all_out: bool = True


def read_mappings(node: etree._Element, filename: str, problems: list[Problem]) -> Mappings:
    """A call activity's variable mappings (Camunda 7 camunda:in/out, Camunda 8 ioMapping)."""
    names = multiword_names(node.getroottree().getroot())
    ins: list[dict[str, str]] = []
    outs: list[dict[str, str]] = []
    every = {"in": False, "out": False}  # which directions a camunda mapping names at all
    everything = {"in": False, "out": False}  # variables="all"
    for el in _camunda(node.find("bpmn:extensionElements", NS)):
        direction = etree.QName(el).localname
        every[direction] = True
        if el.get("variables") == "all":
            everything[direction] = True
            continue
        mapping = _camunda_mapping(el, filename, names, problems)
        if mapping is not None:
            (ins if direction == "in" else outs).append(mapping)
    for kind, target, python in zeebe_mappings(filename, node, names, problems):
        (ins if kind == "input" else outs).append({"target": target, "expression": python})
    called = node.find("bpmn:extensionElements/zeebe:calledElement", NS)
    if called is not None:
        return Mappings(
            ins,
            outs,
            called.get("propagateAllParentVariables") != "false",
            called.get("propagateAllChildVariables") != "false",
        )
    return Mappings(ins, outs, everything["in"] or not every["in"], everything["out"] or not every["out"])


def _camunda(ext: etree._Element | None) -> list[etree._Element]:
    """camunda:in/out elements that map variables (one with only a businessKey maps none)."""
    return [
        e
        for e in (ext if ext is not None else ())
        if isinstance(e.tag, str)
        and etree.QName(e).namespace == CAMUNDA_NS
        and etree.QName(e).localname in ("in", "out")
        and e.get("businessKey") is None
    ]


def _camunda_mapping(
    el: etree._Element, filename: str, names: tuple[str, ...], problems: list[Problem]
) -> dict[str, str] | None:
    where = Where.of(filename, el)
    target = (el.get("target") or "").strip()
    source, expression = el.get("source"), el.get("sourceExpression")
    if not target.isidentifier() or target.startswith("_"):
        problems.append(
            Problem(
                f"mapping target {target!r} must be a variable name",
                where.file,
                where.element_id,
                where.line,
                "unsupported_mapping",
            )
        )
        return None
    if source is not None and source.strip().isidentifier() and not source.strip().startswith("_"):
        return {"target": target, "source": source.strip()}
    if expression is not None:
        python = compile_expression(expression, JUEL, where, "mapping", names)
        if isinstance(python, Problem):
            problems.append(python)
            return None
        return {"target": target, "expression": python}
    problems.append(
        Problem(
            f"mapping to {target!r} needs a source variable name or a sourceExpression",
            where.file,
            where.element_id,
            where.line,
            "unsupported_mapping",
        )
    )
    return None


class PmoflowCallActivity(CallActivity):
    """A call activity that passes only the mapped variables when it has mappings."""

    def __init__(
        self, wf_spec: Any, bpmn_id: str, subworkflow_spec: str, mappings: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(wf_spec, bpmn_id, subworkflow_spec, **kwargs)
        self.mappings = mappings or {}

    def _value(self, task: Any, mapping: dict[str, str], data: dict[str, Any]) -> Any:
        if "source" in mapping:
            return deepcopy(data.get(mapping["source"]))
        return task.workflow.script_engine.environment.evaluate(mapping["expression"], data)

    def copy_data(self, my_task: Any, subworkflow: Any) -> None:
        if not self.mappings:
            super().copy_data(my_task, subworkflow)
            return
        start = subworkflow.get_next_task(subworkflow.task_tree, skip_subprocesses=True, spec_name="Start")
        data = deepcopy(my_task.data) if self.mappings.get("all_in", True) else {}
        for mapping in self.mappings.get("inputs", []):
            assign_path(data, mapping["target"], self._value(my_task, mapping, my_task.data))
        start.set_data(**data)

    def update_data(self, my_task: Any, subworkflow: Any) -> None:
        if not self.mappings:
            super().update_data(my_task, subworkflow)
            return
        child = subworkflow.last_task.data
        data = deepcopy(my_task.data)
        if self.mappings.get("all_out", True):
            data.update(deepcopy(child))
        for mapping in self.mappings.get("outputs", []):
            assign_path(data, mapping["target"], self._value(my_task, mapping, child))
        my_task.data = data


class PmoflowCallActivityConverter(SubWorkflowTaskConverter):
    """Serializes the call activity with its variable mappings."""

    def to_dict(self, spec: PmoflowCallActivity) -> dict[str, Any]:
        dct: dict[str, Any] = super().to_dict(spec)
        dct["mappings"] = spec.mappings
        return dct


class CallActivityTaskParser(CallActivityParser):
    """Builds call activities that carry their variable mappings."""

    def create_task(self) -> PmoflowCallActivity:
        extensions = self.parse_extensions()
        problems: list[Problem] = []
        found = read_mappings(self.node, self.filename or "", problems)
        plain = not found.inputs and not found.outputs and found.all_in and found.all_out
        mappings = (
            {}
            if plain
            else {"inputs": found.inputs, "outputs": found.outputs, "all_in": found.all_in, "all_out": found.all_out}
        )
        return PmoflowCallActivity(
            self.spec,
            self.bpmn_id,
            subworkflow_spec=self.node.get("calledElement"),
            mappings=mappings,
            prescript=extensions.get("preScript"),
            postscript=extensions.get("postScript"),
            **self.bpmn_attributes,
        )
