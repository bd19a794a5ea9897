"""The low-code designer's pages (role designer or admin): library, BPMN and DMN editors, versions, diff.

Views parse, call one service of `designer` and render. The editor talks to four JSON
endpoints (content, save, validate, publish; marked `@json_view`, so their errors answer in the API's
shape) that take the CSRF token in the X-CSRFToken header.
The side properties panel is `designer/web/static/panel.js`, mounted by the editor when present;
its JSON endpoints are `designer.web.panel`. Templates and scripts sit beside this module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

import designer
from designer import drafts
from designer.diff import diff_bpmn
from designer.dmn_keep import read_only_parts
from engine.admin import groups
from engine.core import bounds
from engine.core.context import EngineContext
from engine.core.errors import Conflict, InvalidInput, NotFound, PmoflowError
from engine.designer import library
from engine.designer.store import DraftView
from engine.spiff.extensions.references import decision_ref
from engine.spiff.model.parsing import SourceFile
from engine.spiff.namespaces import NS
from engine.spiff.xml import XmlRefused, parse_xml
from webui.errors import field_errors, json_view, status_of
from webui.security import DMN_EDITOR_POLICY, actor, engine_ctx, requires

STATIC = Path(__file__).resolve().parent / "static"
DESCRIPTORS = Path(designer.__file__).resolve().parent  # the moddle descriptors: designer/pmoflow*.json
bp = Blueprint(
    "designer",
    __name__,
    template_folder="templates",
    url_prefix="/designer",
    static_folder=str(STATIC),
    static_url_path="/static",
)


def _descriptor(name: str) -> Any:
    return json.loads((DESCRIPTORS / name).read_text(encoding="utf-8"))


def _payload() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if isinstance(data, dict):
        return data
    return request.form.to_dict()


def _revision(data: dict[str, Any]) -> int:
    try:
        return bounds.whole(data["revision"], 0)
    except (KeyError, TypeError, ValueError):
        raise InvalidInput("revision is missing: reload the page", {"fields": {"revision": "required"}}) from None


def _download(name: str, content: bytes) -> Response:
    kind = (
        "application/zip"
        if name.endswith(".zip")
        else ("application/json" if name.endswith(".form") else "application/xml")
    )
    response = Response(content, mimetype=kind)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


# ---------------------------------------------------------------- library


@bp.get("")
@requires("definition.design")
def index() -> ResponseReturnValue:
    ctx = engine_ctx()
    return render_template(
        "designer/library.html",
        entries=library.library(ctx, actor()),
        templates=drafts.templates(ctx),
        values={},
        errors={},
    )


@bp.post("/new")
@requires("definition.design")
def new() -> ResponseReturnValue:
    form = request.form
    try:
        draft = drafts.create_draft(
            engine_ctx(), actor(), form.get("key", ""), form.get("name", ""), form.get("template") or None
        )
    except (InvalidInput, Conflict, NotFound) as err:
        return _library_with_error("new", err)
    flash(f"Draft of {draft.name} created.", "info")
    return redirect(url_for("designer.editor", key=draft.key))


@bp.post("/import")
@requires("definition.design")
def import_() -> ResponseReturnValue:
    ctx = engine_ctx()
    uploads = [
        SourceFile(f.filename or "unnamed", f.stream.read(ctx.settings.max_upload_bytes + 1))
        for f in request.files.getlist("files")
        if f and f.filename
    ]
    try:
        draft = drafts.import_files(ctx, actor(), uploads, request.form.get("key") or None)
    except (InvalidInput, Conflict) as err:
        return _library_with_error("import", err)
    flash(f"Imported {draft.name} as a draft.", "info")
    return redirect(url_for("designer.editor", key=draft.key))


def _library_with_error(form: str, err: PmoflowError) -> ResponseReturnValue:
    ctx = engine_ctx()
    errors = {"form": form, "_": err.message, **field_errors(err)}
    page = render_template(
        "designer/library.html",
        entries=library.library(ctx, actor()),
        templates=drafts.templates(ctx),
        values=request.form.to_dict(),
        errors=errors,
    )
    return page, status_of(err)


@bp.post("/processes/<key>/edit")
@requires("definition.design")
def edit(key: str) -> ResponseReturnValue:
    version = request.form.get("version")
    draft = drafts.edit_version(engine_ctx(), actor(), key, bounds.parameter("version", version))
    return redirect(url_for("designer.editor", key=draft.key))


# ---------------------------------------------------------------- the BPMN editor


@bp.get("/drafts/<key>")
@requires("definition.design")
def editor(key: str) -> ResponseReturnValue:
    ctx = engine_ctx()
    draft = drafts.get_draft(ctx, actor(), key)
    return render_template(
        "designer/editor.html",
        draft=draft,
        data=_draft_json(draft),
        descriptor=_descriptor("pmoflow.json"),
        groups=groups.group_names(ctx),
        panel=(STATIC / "panel.js").exists(),
        can_publish=_can("definition.publish"),
    )


def _can(action: str) -> bool:
    from engine.core.permissions import allowed

    return allowed(actor(), action)


def _draft_json(draft: DraftView) -> dict[str, Any]:
    return {
        "key": draft.key,
        "name": draft.name,
        "revision": draft.revision,
        "bpmn": draft.bpmn,
        "files": draft.files,
        "problems": draft.problems,
        "updated_by": draft.updated_by,
        "updated_at": draft.updated_at.isoformat(),
        "base_version": draft.base_version,
        "bpmn_file": draft.bpmn_file,
    }


@bp.get("/drafts/<key>/content")
@requires("definition.design")
@json_view
def content(key: str) -> ResponseReturnValue:
    return jsonify(_draft_json(drafts.get_draft(engine_ctx(), actor(), key)))


@bp.post("/drafts/<key>/save")
@requires("definition.design")
@json_view
def save(key: str) -> ResponseReturnValue:
    data = _payload()
    draft = drafts.save_draft(
        engine_ctx(), actor(), key, _revision(data), data.get("bpmn"), data.get("files") if "files" in data else None
    )
    return jsonify(
        {
            "revision": draft.revision,
            "problems": draft.problems,
            "updated_by": draft.updated_by,
            "updated_at": draft.updated_at.isoformat(),
            "name": draft.name,
        }
    )


@bp.post("/drafts/<key>/validate")
@requires("definition.design")
@json_view
def validate(key: str) -> ResponseReturnValue:
    data = _payload()
    problems = drafts.validate_draft(engine_ctx(), actor(), key, data.get("bpmn"), data.get("files"))
    return jsonify({"problems": [p.as_dict() for p in problems]})


@bp.post("/drafts/<key>/publish")
@requires("definition.publish")
@json_view
def publish(key: str) -> ResponseReturnValue:
    data = _payload()
    done = drafts.publish_draft(engine_ctx(), actor(), key, _revision(data), data.get("note", ""))
    flash(f"Published {key} version {done.version}. New requests use it; running ones stay on theirs.", "info")
    return jsonify({"version": done.version, "url": url_for("designer.version", key=key, version=done.version)})


@bp.post("/drafts/<key>/discard")
@requires("definition.design")
def discard(key: str) -> ResponseReturnValue:
    drafts.discard_draft(engine_ctx(), actor(), key)
    flash(f"The draft of {key} is discarded.", "info")
    return redirect(url_for("designer.index"))


@bp.get("/drafts/<key>/export")
@requires("definition.design")
def export_draft(key: str) -> ResponseReturnValue:
    name, body = drafts.export_draft(engine_ctx(), actor(), key, request.args.get("file"))
    return _download(name, body)


# ---------------------------------------------------------------- the DMN editor


@bp.get("/drafts/<key>/dmn/<filename>")
@requires("definition.design")
def dmn(key: str, filename: str) -> ResponseReturnValue:
    ctx = engine_ctx()
    draft = drafts.get_draft(ctx, actor(), key)
    if filename not in draft.files or not filename.endswith(".dmn"):
        abort(404)
    page = render_template(
        "designer/dmn.html",
        draft=draft,
        filename=filename,
        data=_draft_json(draft),
        descriptor=_descriptor("pmoflow-dmn.json"),
        used_by=_decision_users(draft),
        read_only=read_only_parts(draft.files[filename], filename, engine_ctx().settings.max_upload_bytes),
    )
    return page, {"Content-Security-Policy": DMN_EDITOR_POLICY}


def _decision_users(draft: DraftView) -> dict[str, list[dict[str, str]]]:
    """Decision id -> the business rule tasks of the draft that evaluate it."""
    try:
        root = parse_xml(draft.bpmn.encode(), draft.bpmn_file, engine_ctx().settings.max_upload_bytes)
    except XmlRefused:
        return {}
    used: dict[str, list[dict[str, str]]] = {}
    for task in root.iterfind(".//bpmn:businessRuleTask", NS):
        ref = decision_ref(task)
        if ref:
            used.setdefault(ref, []).append({"id": task.get("id") or "", "name": task.get("name") or ""})
    return used


# ---------------------------------------------------------------- versions and diff


@bp.get("/processes/<key>/versions/<int:version>")
@requires("definition.design")
def version(key: str, version: int) -> ResponseReturnValue:
    ctx = engine_ctx()
    detail = library.version_detail(ctx, actor(), key, version)
    entries = [e for e in library.library(ctx, actor()) if e.key == key]
    return render_template(
        "designer/version.html", d=detail, figures=library.counts_json(detail), entry=entries[0] if entries else None
    )


@bp.get("/processes/<key>/versions/<int:version>/export")
@requires("definition.design")
def export_version(key: str, version: int) -> ResponseReturnValue:
    name, body = drafts.export_version(engine_ctx(), actor(), key, version, request.args.get("file"))
    return _download(name, body)


@bp.get("/processes/<key>/diff")
@requires("definition.design")
def diff(key: str) -> ResponseReturnValue:
    ctx = engine_ctx()
    entries = [e for e in library.library(ctx, actor()) if e.key == key]
    if not entries:
        abort(404)
    entry = entries[0]
    choices = [str(v.version) for v in entry.versions] + (["draft"] if entry.draft else [])
    if len(choices) < 2:
        flash("There is nothing to compare yet: a diff needs two versions (or a version and the draft).", "info")
        return redirect(url_for("designer.index"))
    after = request.args.get("to") or choices[-1 if entry.draft else 0]
    before = request.args.get("from") or next(c for c in choices if c != after)
    if before not in choices or after not in choices:
        abort(404)
    texts = {side: _side_text(ctx, key, which) for side, which in (("before", before), ("after", after))}
    try:
        result = diff_bpmn(texts["before"], texts["after"], ctx.settings.max_upload_bytes)
    except XmlRefused as refused:
        flash(f"Cannot compare: {refused.problem}", "error")
        return redirect(url_for("designer.index"))
    return render_template(
        "designer/diff.html",
        key=key,
        entry=entry,
        choices=choices,
        before=before,
        after=after,
        texts=texts,
        diff=result,
        marks={
            "added": [e.id for e in result.of("added")],
            "removed": [e.id for e in result.of("removed")],
            "changed": [e.id for e in result.of("changed")],
        },
    )


def _side_text(ctx: EngineContext, key: str, which: str) -> str:
    if which == "draft":
        return drafts.get_draft(ctx, actor(), key).bpmn
    name, body = drafts.export_version(ctx, actor(), key, int(which), f"{key}.bpmn")
    return body.decode()
