"""Drafts: a process being edited in the designer, autosaved, validated, then published.

One draft per process key. Every save names the revision it loaded; a stale revision is
refused with a Conflict naming who saved meanwhile and when, and nothing is written (the
caller keeps its copy). Publishing deploys the draft's files through engine.definitions.deployments with
the designer's change note, as the next version, and removes the draft. The rows are the engine's
(engine.designer.store, engine.designer.versions); this module checks, validates and bundles.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from designer.dmn_keep import keep_uneditable
from designer.validation import blocking, validate_files
from engine.admin import groups
from engine.core.context import EngineContext
from engine.core.errors import DeploymentInvalid, InvalidInput, NotFound, Problem
from engine.core.permissions import Actor, require
from engine.core.records import DeploymentView
from engine.definitions import deployments
from engine.definitions.decisions import published_decision_resolver
from engine.designer import store
from engine.designer.store import DraftView
from engine.designer.versions import used_files, version_source
from engine.spiff.model.parsing import SourceFile
from engine.spiff.namespaces import BPMN_NS, NS
from engine.spiff.xml import XmlRefused, parse_xml

KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,199}$")
FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_. -]{0,150}\.(dmn|form)$")
BLANK = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:pmoflow="https://pmoflow.dev/schema/bpmn/1.0" \
id="Definitions_{key}" targetNamespace="https://pmoflow.dev/workflows">
  <bpmn:process id="{key}" name="{name}" isExecutable="true">
    <bpmn:startEvent id="start" name="Start"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_{key}">
    <bpmndi:BPMNPlane id="Plane_{key}" bpmnElement="{key}">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start">
        <dc:Bounds x="180" y="160" width="36" height="36"/>
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


@dataclass(frozen=True)
class Template:
    key: str
    name: str
    filename: str


@dataclass(frozen=True)
class Published:
    key: str
    version: int
    deployment: DeploymentView


# ---------------------------------------------------------------- creating


def templates(ctx: EngineContext) -> list[Template]:
    """The shipped workflows that can start a new process (processes of workflows_dir)."""
    found = []
    for path in sorted(Path(ctx.settings.workflows_dir).glob("*.bpmn")):
        try:
            root = parse_xml(path.read_bytes(), path.name, ctx.settings.max_upload_bytes)
        except (XmlRefused, OSError):
            continue
        for process in root.iterfind("bpmn:process", NS):
            if process.get("isExecutable") == "true" and process.get("id"):
                found.append(
                    Template(process.get("id") or "", process.get("name") or process.get("id") or "", path.name)
                )
    return found


def create_draft(ctx: EngineContext, actor: Actor, key: str, name: str = "", template: str | None = None) -> DraftView:
    """A new draft: blank, or a copy of a template renamed to `key`. Raises InvalidInput, Conflict, NotFound."""
    require(actor, "definition.design")
    key, name = _check_key(key), (name or "").strip()[:200]
    if template:
        bpmn, files, template_name = _from_template(ctx, template, key, name)
        name = name or template_name
    else:
        name = name or key
        bpmn, files = BLANK.format(key=key, name=_xml_attr(name)), {}
    return _insert(
        ctx,
        actor,
        key,
        name,
        bpmn,
        files,
        base_version=None,
        event="draft_created",
        extra={"template": template} if template else {},
    )


def edit_version(ctx: EngineContext, actor: Actor, key: str, version: int | None = None) -> DraftView:
    """A draft of a published version (the latest by default), or the existing draft of `key`. Raises NotFound."""
    require(actor, "definition.design")
    existing = store.find_draft(ctx, key)
    if existing is not None:
        return existing
    source = version_source(ctx, key, version)
    return _insert(
        ctx,
        actor,
        key,
        source.name,
        source.bpmn,
        source.files,
        base_version=source.version,
        event="draft_created",
        extra={"from_version": source.version},
    )


def import_files(ctx: EngineContext, actor: Actor, files: list[SourceFile], key: str | None = None) -> DraftView:
    """A draft from uploaded .bpmn (exactly one) plus .dmn/.form files. Raises InvalidInput, Conflict."""
    require(actor, "definition.design")
    bpmns = [f for f in files if f.filename.lower().endswith(".bpmn")]
    if len(bpmns) != 1:
        raise InvalidInput(
            f"upload exactly one .bpmn file (got {len(bpmns)}) with its .dmn and .form files",
            {"fields": {"files": "exactly one .bpmn file is needed"}},
        )
    try:
        root = parse_xml(bpmns[0].content, bpmns[0].filename, ctx.settings.max_upload_bytes)
    except XmlRefused as refused:
        raise InvalidInput(str(refused.problem), {"fields": {"files": str(refused.problem)}}) from refused
    if etree.QName(root).namespace != BPMN_NS:
        raise InvalidInput(f"{bpmns[0].filename} is not a BPMN 2.0 file", {"fields": {"files": "not BPMN 2.0"}})
    processes = list(root.iterfind("bpmn:process", NS))
    executable = [p for p in processes if p.get("isExecutable") == "true"] or processes
    key = key or (executable[0].get("id") if executable else None) or Path(bpmns[0].filename).stem
    name = (executable[0].get("name") if executable else None) or key
    others = {}
    for f in files:
        if f is bpmns[0]:
            continue
        others[_check_file_name(Path(f.filename).name)] = _text(f, ctx.settings.max_upload_bytes)
    bpmn = _xml_text(bpmns[0], root.getroottree().docinfo.encoding)
    return _insert(
        ctx,
        actor,
        _check_key(key),
        name,
        bpmn,
        others,
        base_version=None,
        event="draft_imported",
        extra={"files": [f.filename for f in files]},
    )


def _insert(
    ctx: EngineContext,
    actor: Actor,
    key: str,
    name: str,
    bpmn: str,
    files: dict[str, str],
    base_version: int | None,
    event: str,
    extra: dict[str, Any],
) -> DraftView:
    problems = _validate(ctx, key, bpmn, files)
    return store.insert_draft(
        ctx, actor.username, key, name, bpmn, files, base_version, [p.as_dict() for p in problems], event, extra
    )


# ---------------------------------------------------------------- reading, saving


def get_draft(ctx: EngineContext, actor: Actor, key: str) -> DraftView:
    """The draft of `key`; raises NotFound."""
    require(actor, "definition.design")
    return store.get_draft(ctx, key)


def save_draft(
    ctx: EngineContext,
    actor: Actor,
    key: str,
    revision: int,
    bpmn: object,
    files: dict[str, str] | None = None,
    name: str | None = None,
) -> DraftView:
    """Save the diagram (and, if given, the DMN/form files) over `revision`, validating it (`bpmn` as sent).

    Raises Conflict when someone else saved since `revision` (details name them), InvalidInput
    for malformed input (nothing is saved), NotFound.
    """
    require(actor, "definition.design")
    if not isinstance(bpmn, str) or not bpmn.strip():
        raise InvalidInput("the diagram is empty", {"fields": {"bpmn": "required"}})
    if len(bpmn.encode()) > ctx.settings.max_upload_bytes:
        raise InvalidInput(
            f"the diagram is larger than {ctx.settings.max_upload_bytes} bytes", {"fields": {"bpmn": "too large"}}
        )
    checked_files = None if files is None else _check_files(files, ctx.settings.max_upload_bytes)
    current = store.get_draft(ctx, key)
    store.check_revision(current, revision)
    files_now = current.files if checked_files is None else _keep_uneditable(current.files, checked_files, ctx)
    problems = _validate(ctx, key, bpmn, files_now)
    return store.save_draft(
        ctx,
        actor.username,
        key,
        revision,
        bpmn,
        files_now,
        (name or "").strip()[:200] or _process_name(bpmn, key),
        [p.as_dict() for p in problems],
    )


def validate_draft(
    ctx: EngineContext, actor: Actor, key: str, bpmn: str | None = None, files: dict[str, str] | None = None
) -> list[Problem]:
    """Problems of the draft (or of the given unsaved content, read as a save would keep it: DMN files with
    what the DMN editor cannot edit put back) without saving; raises NotFound."""
    require(actor, "definition.design")
    draft = get_draft(ctx, actor, key)
    if files is None:
        checked = draft.files
    else:
        checked = _keep_uneditable(draft.files, _check_files(files, ctx.settings.max_upload_bytes), ctx)
    return _validate(ctx, key, bpmn if bpmn is not None else draft.bpmn, checked)


def discard_draft(ctx: EngineContext, actor: Actor, key: str) -> None:
    """Delete the draft of `key`; raises NotFound."""
    require(actor, "definition.design")
    store.discard_draft(ctx, actor.username, key)


# ---------------------------------------------------------------- publishing


def publish_draft(ctx: EngineContext, actor: Actor, key: str, revision: int, note: str) -> Published:
    """Deploy the draft as the next version with `note`, then drop the draft.

    Raises Forbidden (designers and admins only), Conflict (stale revision), InvalidInput (no
    note), DeploymentInvalid (every problem the deploy checks find; modelling advice does not block), NotFound.
    """
    require(actor, "definition.publish")
    note = (note or "").strip()
    if not note:
        raise InvalidInput("say what changed in a change note", {"fields": {"note": "required"}})
    draft = get_draft(ctx, actor, key)
    if draft.revision != revision:
        store.check_revision(store.get_draft(ctx, key), revision)
    problems = blocking(_validate(ctx, key, draft.bpmn, draft.files))
    if problems:
        raise DeploymentInvalid(problems)
    result = deployments.deploy(ctx, actor, draft.source_files(), name=f"{key} (designer)", note=note[:2000])
    ours = [d for d in result.definitions if d.key == key]
    if not ours:
        raise InvalidInput(
            f"the draft holds no executable process with id {key!r}; the process id must stay the draft's key",
            {"fields": {"bpmn": "process id"}},
        )
    if not ours[0].new:
        raise InvalidInput(
            f"nothing to publish: the draft is the same as version {ours[0].version}; "
            "change something or discard the draft",
            {"fields": {"bpmn": "unchanged"}},
        )
    store.drop_published(ctx, actor.username, key, revision, ours[0].version, note[:2000])
    return Published(key=key, version=ours[0].version, deployment=result)


# ---------------------------------------------------------------- exporting


def export_draft(ctx: EngineContext, actor: Actor, key: str, filename: str | None = None) -> tuple[str, bytes]:
    """(file name, content): one file of the draft, or all of them as a zip. Raises NotFound."""
    draft = get_draft(ctx, actor, key)
    files = {draft.bpmn_file: draft.bpmn, **draft.files}
    return _bundle(files, filename, key)


def export_version(
    ctx: EngineContext, actor: Actor, key: str, version: int, filename: str | None = None
) -> tuple[str, bytes]:
    """(file name, content): one file of a published version, or all of them as a zip. Raises NotFound."""
    require(actor, "definition.design")
    source = version_source(ctx, key, version)
    return _bundle({f"{key}.bpmn": source.bpmn, **source.files}, filename, f"{key}-v{version}")


def _bundle(files: dict[str, str], filename: str | None, stem: str) -> tuple[str, bytes]:
    if filename:
        if filename not in files:
            raise NotFound(f"no file {filename!r} here (files: {', '.join(sorted(files))})")
        return filename, files[filename].encode()
    if len(files) == 1:
        name = next(iter(files))
        return name, files[name].encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in sorted(files.items()):
            archive.writestr(name, text)
    return f"{stem}.zip", buffer.getvalue()


# ---------------------------------------------------------------- helpers


def _validate(ctx: EngineContext, key: str, bpmn: str, files: dict[str, str]) -> list[Problem]:
    known = set(groups.group_names(ctx))
    sources = [
        SourceFile(f"{key}.bpmn", bpmn.encode()),
        *(SourceFile(name, text.encode()) for name, text in sorted(files.items())),
    ]
    problems = validate_files(
        sources,
        groups=known,
        max_bytes=ctx.settings.max_upload_bytes,
        max_files=ctx.settings.max_deployment_files,
        published=deployments.published_resolver(ctx),
        decisions=published_decision_resolver(ctx),
        channels=set(ctx.settings.channels()),  # as the deploy checks pmoflow:announce
    )
    if (
        not any(p.code in ("malformed_xml", "forbidden_xml", "too_large") for p in problems)
        and _process_name(bpmn, key) is None
    ):
        problems.append(
            Problem(
                f"the diagram has no process with id {key!r}, the draft's key; "
                "publishing needs it (rename the process back)",
                f"{key}.bpmn",
                code="key_missing",
            )
        )
    return problems


def _check_key(key: str) -> str:
    key = (key or "").strip()
    if not KEY.match(key):
        raise InvalidInput(
            "the process key must start with a letter and use letters, digits, - _ . (at most 200)",
            {"fields": {"key": "letters, digits, - _ . only; start with a letter"}},
        )
    return key


def _check_file_name(name: str) -> str:
    if not FILE_NAME.match(name):
        raise InvalidInput(
            f"file name {name!r}: only .dmn and .form files go beside the diagram, named with letters, digits, - _ .",
            {"fields": {"files": name}},
        )
    return name


def _keep_uneditable(before: dict[str, str], after: dict[str, str], ctx: EngineContext) -> dict[str, str]:
    """The saved files, each DMN file with what the DMN editor cannot edit put back (designer/dmn_keep.py)."""
    limit = ctx.settings.max_upload_bytes
    return {
        name: keep_uneditable(before[name], text, name, limit) if name.endswith(".dmn") and name in before else text
        for name, text in after.items()
    }


def _check_files(files: object, max_bytes: int) -> dict[str, str]:
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise InvalidInput("files must map file names to their text", {"fields": {"files": "a mapping"}})
    checked = {}
    for name, text in files.items():
        checked[_check_file_name(str(name))] = text
        if len(text.encode()) > max_bytes:
            raise InvalidInput(f"{name} is larger than {max_bytes} bytes", {"fields": {"files": name}})
    return checked


def _text(f: SourceFile, max_bytes: int) -> str:
    if len(f.content) > max_bytes:
        raise InvalidInput(
            f"{f.filename} is {len(f.content)} bytes; the limit is {max_bytes}", {"fields": {"files": f.filename}}
        )
    try:
        return f.content.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidInput(f"{f.filename} is not UTF-8 text", {"fields": {"files": f.filename}}) from err


_DECLARED = re.compile(r"""^(<\?xml[^>]*?encoding=)(["'])[^"']*\2""")


def _xml_text(f: SourceFile, encoding: str | None) -> str:
    """The XML as text, decoded with its declared encoding, which then says UTF-8 (we store and serve UTF-8)."""
    try:
        text = f.content.decode(encoding or "utf-8")
    except (LookupError, UnicodeDecodeError) as err:
        raise InvalidInput(f"{f.filename} is not readable as {encoding}", {"fields": {"files": f.filename}}) from err
    return _DECLARED.sub(r"\1\2UTF-8\2", text.lstrip("\ufeff"), count=1)


def _xml_attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def _process_name(bpmn: str, key: str) -> str | None:
    """The name (or "" when unnamed) of process `key` in the diagram; None if there is no such process."""
    try:
        root = etree.fromstring(bpmn.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None
    process = next((p for p in root.iterfind("bpmn:process", NS) if p.get("id") == key), None)
    return (process.get("name") or "") if process is not None else None


def _from_template(ctx: EngineContext, template: str, key: str, name: str) -> tuple[str, dict[str, str], str]:
    folder = Path(ctx.settings.workflows_dir)
    found = next((t for t in templates(ctx) if t.key == template), None)
    if found is None:
        raise NotFound(f"no template {template!r} (templates: {', '.join(t.key for t in templates(ctx))})")
    root = parse_xml((folder / found.filename).read_bytes(), found.filename, ctx.settings.max_upload_bytes)
    for process in root.iterfind("bpmn:process", NS):
        if process.get("id") == template:
            process.set("id", key)
            if name:
                process.set("name", name)
    for el in root.iter():
        if isinstance(el.tag, str):
            for attr in ("processRef", "bpmnElement"):
                if el.get(attr) == template:
                    el.set(attr, key)
    bpmn = etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode()
    candidates = {
        p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir()) if p.suffix in (".form", ".dmn")
    }
    return bpmn + "\n", used_files(bpmn, key, candidates), found.name
