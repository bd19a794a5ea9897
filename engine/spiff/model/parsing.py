"""Deployment parsing: hardened XML, every problem at once, then SpiffWorkflow specs.

`parse_deployment` checks a set of BPMN, DMN and form files the way a reviewer would
(unknown elements, timers, lanes, callees, decision
and form references, expressions that do not compile) and reports all problems with file,
element id and line. DMN files are read by engine.dmn (every FEEL cell parsed, every
decision's test table run); a deployment may hold decisions only. Only a clean deployment
is handed to SpiffWorkflow's parser.

This module loads the files (XML parsed hardened, forms read) and runs the jobs in order:
`bpmn_checks`, `dmn_checks`, then `builder` (the specs); `files.DeploymentFiles` is what they share.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from engine.core.errors import DeploymentInvalid, Problem
from engine.forms.checks import FormSchemaError, load_form
from engine.spiff.extensions.announce import announce_problems
from engine.spiff.extensions.assignment import embedded_zeebe_forms
from engine.spiff.extensions.calls import Resolver
from engine.spiff.extensions.decisions import DecisionResolver
from engine.spiff.extensions.references import start_form_ref
from engine.spiff.model.bpmn_checks import calendar_problems, check_bpmn
from engine.spiff.model.builder import ParsedProcess, build_specs
from engine.spiff.model.dmn_checks import ParsedDecision, check_dmn, decision_test_problems, parsed_decisions
from engine.spiff.model.files import DeploymentFiles
from engine.spiff.namespaces import BPMN_NS, DMN_NAMESPACES, NS, PMOFLOW_NS, SUB_SCOPES
from engine.spiff.xml import XmlRefused, parse_xml


@dataclass(frozen=True)
class SourceFile:
    """One uploaded file: its name and its bytes."""

    filename: str
    content: bytes


@dataclass(frozen=True)
class ParsedDeployment:
    """What a clean deployment gives: its processes and its decisions."""

    processes: list[ParsedProcess]
    decisions: list[ParsedDecision]


def parse_deployment(
    files: Sequence[SourceFile],
    *,
    max_bytes: int,
    max_files: int = 50,
    calendars: set[str] | None = None,
    published: Resolver | None = None,
    decisions: DecisionResolver | None = None,
    channels: set[str] | None = None,
) -> ParsedDeployment:
    """Check and parse a deployment (with `calendars`, the business calendars that exist, `published`, which
    finds callees deployed earlier, and `decisions`, which finds decisions deployed earlier); raises
    DeploymentInvalid listing every problem found."""
    problems: list[Problem] = []
    if not files:
        raise DeploymentInvalid([Problem("no files were uploaded", code="empty")])
    if len(files) > max_files:
        raise DeploymentInvalid([Problem(f"{len(files)} files; at most {max_files} per deployment")])
    index = _load_files(files, max_bytes, problems)
    index.published = published
    index.published_decisions = decisions
    for filename, root in index.bpmn.items():
        problems.extend(check_bpmn(filename, root, index))
    for filename, root in index.dmn.items():
        problems.extend(check_dmn(filename, root, index))
    if calendars is not None:
        problems.extend(calendar_problems(index, calendars))
    for filename, root in index.bpmn.items():  # with `channels`, the chat channels the server knows
        for process in root.iterfind("bpmn:process", NS):
            problems.extend(announce_problems(process, filename, channels))
    if not problems:
        problems.extend(decision_test_problems(index))
    executable = _executable_processes(index, problems)
    if problems:
        raise DeploymentInvalid(problems)
    return ParsedDeployment(build_specs(index, executable) if executable else [], parsed_decisions(index))


# ---------------------------------------------------------------- loading


def _load_files(files: Sequence[SourceFile], max_bytes: int, problems: list[Problem]) -> DeploymentFiles:
    index = DeploymentFiles()
    seen: set[str] = set()
    for f in files:
        name = Path(f.filename or "unnamed").name
        if name in seen:
            problems.append(Problem("the same file name is uploaded twice", name))
            continue
        seen.add(name)
        suffix = Path(name).suffix.lower()
        if suffix == ".form" or suffix == ".json":
            _load_form(name, f.content, max_bytes, index, problems)
            continue
        if suffix not in (".bpmn", ".dmn", ".xml"):
            problems.append(Problem("unknown file type; expected .bpmn, .dmn or .form", name))
            continue
        try:
            root = parse_xml(f.content, name, max_bytes)
        except XmlRefused as refused:
            problems.append(refused.problem)
            continue
        index.raw[name] = f.content
        namespace = etree.QName(root).namespace
        if namespace == BPMN_NS:
            index.bpmn[name] = root
            _index_processes(name, root, index, problems)
        elif namespace in DMN_NAMESPACES:
            index.dmn[name] = root
            _index_decisions(name, root, index, problems)
        else:
            problems.append(
                Problem(f"root element {root.tag!r} is neither BPMN 2.0 nor DMN", name, line=root.sourceline)
            )
    return index


def _load_form(name: str, content: bytes, max_bytes: int, index: DeploymentFiles, problems: list[Problem]) -> None:
    if len(content) > max_bytes:
        problems.append(Problem(f"file is {len(content)} bytes; the limit is {max_bytes}", name, code="too_large"))
        return
    try:
        schema = load_form(content, name)
    except FormSchemaError as err:
        problems.extend(Problem(f"{p.path}: {p.message}", name, code="invalid_form") for p in err.problems)
        return
    form_id = schema["id"]
    if form_id in index.forms:
        problems.append(Problem(f"form id {form_id!r} is also used by {index.form_files[form_id]}", name))
        return
    index.raw[name] = content
    index.forms[form_id] = schema
    index.form_files[form_id] = name


def _add_form(filename: str, form_id: str, content: bytes, index: DeploymentFiles, problems: list[Problem]) -> None:
    """A Camunda 8 form embedded in a BPMN file (zeebe:userTaskForm), known by its element id."""
    try:
        schema = load_form(content, filename)
    except FormSchemaError as err:
        problems.extend(
            Problem(f"embedded form {form_id!r}: {p.path}: {p.message}", filename, form_id, code="invalid_form")
            for p in err.problems
        )
        return
    if form_id in index.forms:
        problems.append(Problem(f"form id {form_id!r} is also used by {index.form_files[form_id]}", filename, form_id))
        return
    index.forms[form_id] = schema
    index.form_files[form_id] = filename


def _index_processes(name: str, root: etree._Element, index: DeploymentFiles, problems: list[Problem]) -> None:
    for process in root.iterfind("bpmn:process", NS):
        pid = process.get("id")
        if not pid:
            problems.append(Problem("process without an id", name, line=process.sourceline))
            continue
        if pid in index.processes:
            problems.append(
                Problem(
                    f"process id {pid!r} is also defined in {index.processes[pid][0]}", name, pid, process.sourceline
                )
            )
            continue
        index.processes[pid] = (name, process)
        for scope in process.iter(*(f"{{{BPMN_NS}}}{k}" for k in SUB_SCOPES)):
            if scope_id := scope.get("id"):
                index.scopes.setdefault(scope_id, (name, scope))
        for form_id, text in embedded_zeebe_forms(process).items():
            _add_form(name, form_id, text.encode(), index, problems)


def _index_decisions(name: str, root: etree._Element, index: DeploymentFiles, problems: list[Problem]) -> None:
    ns = etree.QName(root).namespace
    for decision in root.iterfind(f"{{{ns}}}decision"):
        did = decision.get("id")
        if did in index.decisions:
            problems.append(
                Problem(
                    f"decision id {did!r} is also defined in {index.decisions[did]}", name, did, decision.sourceline
                )
            )
            continue
        if did:
            index.decisions[did] = name


def _executable_processes(index: DeploymentFiles, problems: list[Problem]) -> list[str]:
    executable = [pid for pid, (_, node) in index.processes.items() if node.get("isExecutable") == "true"]
    if index.bpmn and not executable:
        for pid, (filename, node) in index.processes.items():
            problems.append(
                Problem(
                    'process is not executable (isExecutable is not "true")',
                    filename,
                    pid,
                    node.sourceline,
                    "not_executable",
                )
            )
        if not index.processes:
            problems.append(Problem("the deployment has no BPMN process", code="no_process"))
    if not index.bpmn and not index.dmn and not problems:
        problems.append(Problem("the deployment has no .bpmn or .dmn file", code="no_process"))
    return executable


@dataclass(frozen=True)
class ProcessAbout:
    """What a process says about itself, for the people who start it."""

    description: str | None = None  # the first paragraph of its bpmn:documentation
    owner: str | None = None  # pmoflow:owner on the process (a user name)


DESCRIPTION_LIMIT = 500
_NOTE = re.compile(r"^[A-Z][\w ]{0,24}:\s")  # "Reads: title, budget", "SLA: ..." (notes for modellers)


def about_process(bpmn: bytes, filename: str, process_id: str, max_bytes: int) -> ProcessAbout:
    """The description and owner of a process in a deployed BPMN file, read again; empty if unreadable."""
    try:
        root = parse_xml(bpmn, filename, max_bytes)
    except XmlRefused:
        return ProcessAbout()
    process = next((p for p in root.iterfind("bpmn:process", NS) if p.get("id") == process_id), None)
    if process is None:
        return ProcessAbout()
    text = (process.findtext("bpmn:documentation", "", NS) or "").strip()
    lines: list[str] = []
    for line in text.split("\n\n")[0].splitlines():  # the first paragraph, up to notes like "Reads: ..."
        if lines and _NOTE.match(line.strip()):
            break
        lines.append(line)
    first = " ".join(" ".join(lines).split())
    if len(first) > DESCRIPTION_LIMIT:
        first = first[: DESCRIPTION_LIMIT - 1] + "…"
    owner = (process.get(f"{{{PMOFLOW_NS}}}owner") or "").strip()
    return ProcessAbout(description=first or None, owner=owner or None)


def start_form_of(bpmn: bytes, filename: str, process_id: str, max_bytes: int) -> str | None:
    """The start form of a process in a deployed BPMN file, read again; None if it has none or is unreadable."""
    try:
        root = parse_xml(bpmn, filename, max_bytes)
    except XmlRefused:
        return None
    process = next((p for p in root.iterfind("bpmn:process", NS) if p.get("id") == process_id), None)
    return start_form_ref(process) if process is not None else None
