"""designer/pmoflow.json describes every pmoflow: extension the engine reads, so the modeler writes what runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from lxml import etree

from engine.spiff import namespaces
from engine.spiff.extensions import approvals as approval_ext
from engine.spiff.extensions import references
from tests.factories import ROOT

DESIGNER = ROOT / "designer"
BPMN_DESCRIPTOR = json.loads((DESIGNER / "pmoflow.json").read_text())
DMN_DESCRIPTOR = json.loads((DESIGNER / "pmoflow-dmn.json").read_text())
ENGINE_READERS = sorted((ROOT / "engine" / "spiff").rglob("*.py"))  # the parser and its extension readers


def _tag(type_name: str) -> str:
    return type_name[0].lower() + type_name[1:]  # tagAlias lowerCase


def _elements_read_by(paths: list[Path]) -> set[str]:
    names = set()
    for path in paths:
        code = re.sub(r'"""[\s\S]*?"""', "", path.read_text())  # not the docstrings
        names |= set(re.findall(r"pmoflow:([a-zA-Z]+)", code))
        names |= set(re.findall(r'_ext\(\w+, "([a-zA-Z]+)"\)', code))
        names |= set(re.findall(r"\{PMOFLOW_NS\}\}\}([a-zA-Z]+)", code))
    return names


def _described(descriptor: dict) -> set[str]:
    """Element tags and extension attribute names a descriptor declares."""
    tags = {_tag(t["name"]) for t in descriptor["types"] if "extends" not in t}
    attributes = {p["name"] for t in descriptor["types"] if "extends" in t for p in t["properties"]}
    return tags | attributes


def test_the_descriptors_are_one_namespace_the_parser_uses():
    for descriptor in (BPMN_DESCRIPTOR, DMN_DESCRIPTOR):
        assert descriptor["uri"] == namespaces.PMOFLOW_NS == approval_ext.PMOFLOW_NS
        assert descriptor["prefix"] == "pmoflow" and descriptor["xml"] == {"tagAlias": "lowerCase"}


def test_every_bpmn_extension_element_the_engine_reads_is_described():
    read = _elements_read_by(ENGINE_READERS)
    assert read >= {"form", "assignment", "decision", "approval", "priority", "separationOfDuties"}
    assert read - _described(BPMN_DESCRIPTOR) == set()


CORE = ("Form", "Assignment", "Decision", "Approval", "Priority", "SeparationOfDuties")


def _document_with_every_property() -> tuple[etree._Element, dict[str, dict[str, str]]]:
    """A user task, a business rule task and a process carrying every described element and attribute."""
    values = {
        t["name"]: {p["name"]: f"v_{p['name']}" for p in t["properties"] if p.get("isAttr")}
        for t in BPMN_DESCRIPTOR["types"]
    }
    assert set(CORE) <= set(values)
    values["Approval"].update(rule="count", count="2", percent="50")
    values["SeparationOfDuties"].update(initiator="true", repeat="false")
    values["Priority"]["value"] = "42"
    ns = {"bpmn": namespaces.BPMN_NS, "pmoflow": namespaces.PMOFLOW_NS}
    root = etree.Element(f"{{{ns['bpmn']}}}definitions", nsmap=ns)
    process = etree.SubElement(root, f"{{{ns['bpmn']}}}process", id="p")
    holders = {
        "bpmn:Process": process,
        "bpmn:UserTask": etree.SubElement(process, f"{{{ns['bpmn']}}}userTask", id="u"),
        "bpmn:BusinessRuleTask": etree.SubElement(process, f"{{{ns['bpmn']}}}businessRuleTask", id="b"),
    }
    for t in BPMN_DESCRIPTOR["types"]:
        if t["name"] not in CORE:
            continue  # read by other parts of the engine, tested there
        allowed = [a for a in t["meta"]["allowedIn"] if a in holders]
        holder = holders[allowed[0]]
        ext = holder.find(f"{{{ns['bpmn']}}}extensionElements")
        if ext is None:
            ext = etree.SubElement(holder, f"{{{ns['bpmn']}}}extensionElements")
        etree.SubElement(ext, f"{{{ns['pmoflow']}}}{_tag(t['name'])}", values[t["name"]])
    return root, values


def test_a_model_written_with_the_descriptor_is_read_by_the_engine():
    root, v = _document_with_every_property()
    task = root.find(".//{*}userTask")
    rule_task = root.find(".//{*}businessRuleTask")
    assert references.form_ref(task) == v["Form"]["ref"]
    assert references.candidate_groups(task) == [v["Assignment"]["candidateGroups"]]
    assert references.decision_ref(rule_task) == v["Decision"]["ref"]
    assert approval_ext.priority_of(task) == "42"
    approval = approval_ext.approval_config(task)
    assert approval["group"] == v["Approval"]["group"] and approval["approvers"] == v["Approval"]["approvers"]
    assert approval["rule"] == "count" and approval["count"] == 2 and approval["percent"] == 50
    assert approval_ext.separation_of_duties(root.find(".//{*}process")) == {"initiator": True, "repeat": False}


def test_the_dmn_descriptor_covers_the_decision_extensions():
    readers = sorted((ROOT / "engine" / "dmn").glob("read*.py"))  # reader.py, read_elements.py, read_expressions.py
    code = re.sub(r'"""[\s\S]*?"""', "", "".join(path.read_text() for path in readers))
    read = set(re.findall(r"\{PMOFLOW_NS\}\}\}([a-zA-Z]+)", code))
    assert read == {"requireMatch", "tests", "test", "input", "expect"}
    described = {_tag(t["name"]) for t in DMN_DESCRIPTOR["types"]}
    attributes = {p["name"] for t in DMN_DESCRIPTOR["types"] for p in t["properties"] if p.get("isAttr")}
    assert read - {"requireMatch"} <= described and "requireMatch" in attributes
