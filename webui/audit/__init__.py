"""The auditor's pages: search the audit trail, an instance's timeline on its diagram, exports, chain check.

Everything here is read-only (GET) and needs `audit.read` (admin, auditor, api).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, stream_with_context, url_for
from flask.typing import ResponseReturnValue

from engine.audit import presets
from engine.audit import trail as audit_trail
from engine.audit.trail import AuditEventView, AuditFilter
from engine.core import bounds
from engine.core.errors import InvalidInput
from webui.security import actor, engine_ctx, requires

bp = Blueprint("audit", __name__, template_folder="templates", url_prefix="/audit")

FILTER_FIELDS = ("process", "business_key", "actor", "action", "since", "until", "text", "preset")
NOISE = ("element_completed", "timer_fired")  # shown in the timeline only when asked for


def parse_filter(args: Any, instance_id: str | None = None, preset: str = "all") -> AuditFilter:
    """An AuditFilter from query arguments (without a preset argument: `preset`); raises InvalidInput naming
    the bad field."""
    values: dict[str, Any] = {k: (args.get(k) or "").strip() or None for k in FILTER_FIELDS}
    values["preset"] = values["preset"] or preset
    errors: dict[str, str] = {}
    for name, end_of_day in (("since", False), ("until", True)):
        if values[name]:
            try:
                values[name] = bounds.moment(values[name], end_of_day)
            except ValueError as err:
                errors[name] = str(err)
    before = args.get("before")
    if before:
        try:
            values["before"] = bounds.whole(before, 1, bounds.BIGINT_MAX)
        except ValueError as err:
            errors["before"] = str(err)
    if errors:
        raise InvalidInput("; ".join(f"{k}: {v}" for k, v in errors.items()), {"fields": errors})
    return AuditFilter(instance_id=instance_id, **values)


# ---------------------------------------------------------------- pages


@bp.get("")
@requires("audit.read")
def search() -> ResponseReturnValue:
    try:
        flt = parse_filter(request.args, preset=presets.DEFAULT_PRESET)  # the first view hides sign-ins
    except InvalidInput as err:
        return _search_page(None, err), 422
    page = audit_trail.search(engine_ctx(), actor(), flt)
    return _search_page(page, None)


def _search_page(page: audit_trail.AuditPage | None, error: InvalidInput | None) -> str:
    args = {k: request.args.get(k, "").strip() for k in FILTER_FIELDS}
    if args["preset"] not in presets.PRESETS:
        args["preset"] = presets.DEFAULT_PRESET
    query: dict[str, Any] = {k: v for k, v in args.items() if v}
    older = url_for("audit.search", **query, before=page.next_before) if page and page.next_before else None
    return render_template(
        "audit/search.html",
        page=page,
        error=error,
        args=args,
        query=query,
        older=older,
        first=bool(request.args.get("before")),
        actions=audit_trail.event_types(engine_ctx(), actor()),
        presets=presets.PRESETS,
    )


@bp.get("/instances/<instance_id>")
@requires("audit.read")
def instance(instance_id: str) -> ResponseReturnValue:
    trail = audit_trail.instance_trail(engine_ctx(), actor(), instance_id)
    everything = request.args.get("all") == "1"
    shown = [e for e in trail.events if everything or e.type not in NOISE]
    return render_template("audit/instance.html", t=trail, shown=shown, everything=everything)


@bp.get("/instances/<instance_id>/report")
@requires("audit.read")
def report(instance_id: str) -> ResponseReturnValue:
    trail = audit_trail.instance_trail(engine_ctx(), actor(), instance_id)
    return render_template(
        "audit/report.html",
        t=trail,
        shown=[e for e in trail.events if e.type not in NOISE],
        printed=engine_ctx().clock.now(),
        by=actor().username,
    )


@bp.get("/verify")
@requires("audit.read")
def verify() -> ResponseReturnValue:
    result = audit_trail.verify(engine_ctx(), actor())
    return render_template("audit/verify.html", result=result), 200


# ---------------------------------------------------------------- exports


@bp.get("/export.<fmt>")
@requires("audit.read")
def export(fmt: str) -> ResponseReturnValue:
    return _export(fmt, parse_filter(request.args), "audit-events")  # InvalidInput: the error boundary's 422


@bp.get("/instances/<instance_id>/export.<fmt>")
@requires("audit.read")
def export_instance(instance_id: str, fmt: str) -> ResponseReturnValue:
    audit_trail.instance_trail(engine_ctx(), actor(), instance_id)  # 404 for an unknown instance
    return _export(fmt, AuditFilter(instance_id=instance_id), f"audit-{instance_id}")


def _export(fmt: str, flt: AuditFilter, name: str) -> Response:
    if fmt not in ("csv", "jsonl"):
        abort(404)
    rows = audit_trail.export(engine_ctx(), actor(), flt)
    first = next(rows, None)  # permission errors surface before the response starts
    chain = [first] if first is not None else []
    body = csv_lines(_chain(chain, rows)) if fmt == "csv" else jsonl_lines(_chain(chain, rows))
    response = Response(stream_with_context(body), mimetype="text/csv" if fmt == "csv" else "application/x-ndjson")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _chain(head: list[AuditEventView], rest: Iterator[AuditEventView]) -> Iterator[AuditEventView]:
    yield from head
    yield from rest


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text  # no formulas in spreadsheets


def csv_lines(events: Iterable[AuditEventView]) -> Iterator[str]:
    """The events as CSV, header first; cells that a spreadsheet would run as formulas are quoted."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(audit_trail.EXPORT_FIELDS)
    for event in events:
        writer.writerow([_cell(v) for v in event.as_dict().values()])
        if buffer.tell() > 32_768:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def jsonl_lines(events: Iterable[AuditEventView]) -> Iterator[str]:
    for event in events:
        values = event.as_dict()
        values["occurred_at"] = event.occurred_at.astimezone(UTC).isoformat()
        yield json.dumps(values, ensure_ascii=False, sort_keys=True) + "\n"
