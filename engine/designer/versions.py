"""A published version's files as the designer opens them: its diagram and the DMN and form files it uses."""

from __future__ import annotations

import json
from dataclasses import dataclass

from lxml import etree
from sqlalchemy.orm import Session

from engine.core.context import EngineContext
from engine.core.errors import NotFound
from engine.db.models import ProcessDefinition
from engine.definitions.versions import find_version
from engine.spiff.extensions.references import decision_ref, form_ref
from engine.spiff.namespaces import BPMN_NS, DMN_NAMESPACES, NS


@dataclass(frozen=True)
class VersionSource:
    key: str
    version: int
    name: str
    bpmn: str
    files: dict[str, str]  # the .dmn and .form files the process uses, by name


def version_source(ctx: EngineContext, key: str, version: int | None = None) -> VersionSource:
    """The given (or the newest) version of process `key` with its files; raises NotFound."""
    with ctx.uow(write=False) as uow:
        row = version_row(uow.session, key, version)
        bpmn, files = version_files(row)
        return VersionSource(row.key, row.version, row.name, bpmn, files)


def version_row(session: Session, key: str, version: int | None) -> ProcessDefinition:
    """The given (or the newest) version of process `key`; raises NotFound."""
    row = find_version(session, ProcessDefinition, key, version)
    if row is None:
        raise NotFound(f"process {key!r} has no version {version}" if version else f"process {key!r} is not deployed")
    return row


def version_files(row: ProcessDefinition) -> tuple[str, dict[str, str]]:
    """The BPMN text of a version and the DMN/form files it uses, from its deployment."""
    by_name = {f.filename: f.content for f in row.deployment.files}
    bpmn = by_name.get(row.bpmn_file, "")
    return bpmn, used_files(bpmn, row.key, by_name)


def used_files(bpmn: str, key: str, candidates: dict[str, str]) -> dict[str, str]:
    """The .form files whose id and the .dmn files whose decisions the process `key` references."""
    try:
        root = etree.fromstring(bpmn.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return {}
    process = next((p for p in root.iterfind("bpmn:process", NS) if p.get("id") == key), None)
    scope = process if process is not None else root
    forms = {ref for node in scope.iter() if isinstance(node.tag, str) and (ref := form_ref(node))}
    decisions = {ref for node in scope.iter(f"{{{BPMN_NS}}}businessRuleTask") if (ref := decision_ref(node))}
    used = {}
    for name, text in candidates.items():
        if name.endswith(".form"):
            try:
                if json.loads(text).get("id") in forms:
                    used[name] = text
            except (ValueError, AttributeError):
                continue
        elif name.endswith(".dmn") and decisions & _decision_ids(text):
            used[name] = text
    return used


def _decision_ids(dmn: str) -> set[str]:
    try:
        root = etree.fromstring(dmn.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return set()
    ns = etree.QName(root).namespace
    if ns not in DMN_NAMESPACES:
        return set()
    return {d.get("id") or "" for d in root.iterfind(f"{{{ns}}}decision")}
