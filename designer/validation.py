"""Validating a draft: the engine's own deploy checks plus the designer's modelling advice.

Returns every problem at once (file, element id, line, code) so the editor can mark all of
them on the diagram; never raises for a bad model. Only the deploy checks block publishing
(`blocking`): the designer refuses exactly what a deployment through the API refuses. What
the modelling rules (designer.rules) add is `Advice`: a warning ("severity": "warning").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from lxml import etree

from designer import rules
from engine.core.errors import DeploymentInvalid, Problem
from engine.spiff.extensions.calls import Resolver
from engine.spiff.extensions.decisions import DecisionResolver
from engine.spiff.model.parsing import SourceFile, parse_deployment
from engine.spiff.namespaces import FLOW_NODES
from engine.spiff.xml import XmlRefused, parse_xml

DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"


@dataclass(frozen=True)
class Advice(Problem):
    """A modelling rule's warning: shown on the diagram, never a reason to refuse publishing."""

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "severity": "warning"}


def validate_files(
    files: Sequence[SourceFile],
    *,
    groups: set[str] | None,
    max_bytes: int,
    max_files: int = 50,
    lane_map: dict[str, str] | None = None,
    published: Resolver | None = None,
    decisions: DecisionResolver | None = None,
    channels: set[str] | None = None,
) -> list[Problem]:
    """Every problem of a would-be deployment, engine checks first, then the modelling rules
    (`published` and `decisions` find callees and decisions deployed earlier, `channels` are the server's chat
    channels pmoflow:announce may name, as at deploy)."""
    problems: list[Problem] = []
    try:
        parse_deployment(
            files,
            max_bytes=max_bytes,
            max_files=max_files,
            published=published,
            decisions=decisions,
            channels=channels,
        )
    except DeploymentInvalid as invalid:
        problems.extend(invalid.problems)
    deploy_count = len(problems)
    for f in files:
        if not f.filename.lower().endswith(".bpmn"):
            continue
        try:
            root = parse_xml(f.content, f.filename, max_bytes)
        except XmlRefused:
            continue  # parse_deployment reported it
        refused = {(p.file, p.element_id, p.code) for p in problems}
        problems.extend(
            p if (p.file, p.element_id, p.code) in refused else Advice(**vars(p))
            for p in rules.check_model(f.filename, root, groups, lane_map)
        )
        problems = _on_diagram(problems, f.filename, root)
    return _unique(_detailed(problems, deploy_count))


def _detailed(problems: list[Problem], deploy_count: int) -> list[Problem]:
    """Where a modelling rule repeats a deploy rule on the same element (an unreachable activity), only
    the modelling rule's problem is kept: it also names what is cut off after the element."""
    designer = {(p.file, p.element_id, p.code) for p in problems[deploy_count:]}
    return [p for i, p in enumerate(problems) if i >= deploy_count or (p.file, p.element_id, p.code) not in designer]


def blocking(problems: Sequence[Problem]) -> list[Problem]:
    """The problems that stop a draft from being published: all but the modelling advice."""
    return [p for p in problems if not isinstance(p, Advice)]


def _on_diagram(problems: list[Problem], filename: str, root: etree._Element) -> list[Problem]:
    """Problems of parts the diagram does not draw (a timer definition, a condition) move to their shape."""
    shown = {el.get("bpmnElement") for el in root.iter(f"{{{DI_NS}}}BPMNShape", f"{{{DI_NS}}}BPMNEdge")}
    drawn = FLOW_NODES | {"sequenceFlow", "process", "lane", "participant", "textAnnotation", "dataObjectReference"}
    by_id = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    moved = []
    for p in problems:
        node = by_id.get(p.element_id) if p.file == filename and p.element_id else None
        target = node
        while target is not None and not (
            target.get("id") in shown or (not shown and etree.QName(target).localname in drawn)
        ):
            target = target.getparent()
        if node is not None and target is not None and target is not node and target.get("id"):
            p = replace(p, element_id=target.get("id"))
        moved.append(p)
    return moved


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[object, ...]] = set()
    out = []
    for p in problems:
        key = (p.file, p.element_id, p.code, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
