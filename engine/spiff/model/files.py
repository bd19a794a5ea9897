"""What a deployment holds, indexed for the checks and the spec builder (filled by `parsing.parse_deployment`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from engine.dmn.model import DecisionModel
from engine.spiff.extensions.calls import PublishedProcess, Resolver
from engine.spiff.extensions.decisions import DecisionResolver, PublishedDecision
from engine.spiff.extensions.references import form_ref
from engine.spiff.namespaces import NS


@dataclass
class DeploymentFiles:
    """What the deployment holds, indexed for the checks."""

    bpmn: dict[str, etree._Element] = field(default_factory=dict)
    dmn: dict[str, etree._Element] = field(default_factory=dict)
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)  # form id -> schema
    form_files: dict[str, str] = field(default_factory=dict)  # form id -> filename
    raw: dict[str, bytes] = field(default_factory=dict)
    processes: dict[str, tuple[str, etree._Element]] = field(default_factory=dict)  # id -> (file, node)
    # embedded sub-processes, event sub-processes and transactions: Spiff builds each as a spec of its own
    scopes: dict[str, tuple[str, etree._Element]] = field(default_factory=dict)  # id -> (file, node)
    decisions: dict[str, str] = field(default_factory=dict)  # decision id -> filename
    models: dict[str, DecisionModel] = field(default_factory=dict)  # decision id -> model
    dmn_lines: dict[str, dict[str, int]] = field(default_factory=dict)  # filename -> element id -> line
    published: Resolver | None = None  # callees of earlier deployments
    callees: dict[str, PublishedProcess] = field(default_factory=dict)  # key -> the published one embedded
    published_decisions: DecisionResolver | None = None  # decisions of earlier deployments
    # decision id -> the published one a business rule task evaluates (not in this deployment, or pinned)
    decisions_used: dict[str, PublishedDecision] = field(default_factory=dict)

    def form_id(self, node: etree._Element) -> str | None:
        """The id of the deployed form a node names (by id, or by file name for a path), or None."""
        ref = form_ref(node)
        if ref is None:
            return None
        if ref in self.forms:
            return ref
        filename = Path(ref).name
        return next((fid for fid, name in self.form_files.items() if name == filename), None)

    def start_form_id(self, process: etree._Element) -> str | None:
        """The deployed form of the process's first top-level start event that names one."""
        for event in process.iterfind("bpmn:startEvent", NS):
            if form_ref(event):
                return self.form_id(event)
        return None
