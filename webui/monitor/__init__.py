"""Instance monitoring and the PMO dashboard: the list with filters and bulk actions, one instance
in depth (diagram with the path, tasks with SLA, variables, incidents), retention settings."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from engine.audit import retention
from engine.core import bounds
from engine.core.errors import Conflict, IncidentError, InvalidInput
from engine.core.outcomes import OUTCOMES
from engine.core.permissions import allowed
from engine.monitoring import bulk, dashboard
from engine.monitoring import instances as monitoring
from engine.monitoring.filters import InstanceFilter
from engine.runtime import instances, migration
from webui.errors import field_errors
from webui.monitor import charts
from webui.security import actor, engine_ctx, requires

bp = Blueprint("monitor", __name__, template_folder="templates")

STATUS_TEXT = {"running": "Running", "completed": "Completed", "cancelled": "Cancelled", "error": "In error"}
BULK_TEXT = {"cancel": "Cancel", "retry": "Retry", "migrate": "Move to version"}


def _filters() -> tuple[InstanceFilter, dict[str, str]]:
    """The filter from the query string (or posted form); bad values are shown, not a 500."""
    source = request.form if request.method == "POST" else request.args
    try:
        return InstanceFilter.from_args(source), {}
    except InvalidInput as err:
        return InstanceFilter(), field_errors(err)


def _page_no() -> int:
    return bounds.page_number(request.args.get("page"))


# ---------------------------------------------------------------- the list


@bp.get("/monitor")
@requires("instance.monitor")
def index() -> ResponseReturnValue:
    flt, errors = _filters()
    ctx, who = engine_ctx(), actor()
    result = monitoring.search(ctx, who, flt, page=_page_no())
    actions = [a for a in bulk.ACTIONS if allowed(who, bulk.PERMISSION[a])]
    versions = migration.other_versions(ctx, who, flt.process) if flt.process and "migrate" in actions else []
    return render_template(
        "monitor/list.html",
        r=result,
        flt=flt,
        query=flt.to_query(),
        errors=errors,
        status_text=STATUS_TEXT,
        bulk_text=BULK_TEXT,
        outcomes=OUTCOMES,
        bulk_actions=actions,
        versions=versions,
        limit=bulk.MAX_BULK,
    ), 422 if errors else 200


@bp.post("/monitor/bulk", endpoint="bulk")
@requires("instance.monitor")
def bulk_action() -> ResponseReturnValue:
    """First post: a confirmation naming how many instances, and which the action does not apply to;
    second post (confirm=yes): do it and report each instance. `scope=picked` acts on the ticked `ids`
    (each '<id>:<revision>' as listed), otherwise on every instance matching the filter."""
    flt, errors = _filters()
    back = url_for("monitor.index", **flt.to_query())
    if errors:
        flash("Fix the filters first.", "error")
        return redirect(back)
    action, reason = request.form.get("action", ""), request.form.get("reason", "").strip()
    ctx = engine_ctx()
    version = bounds.parameter("to_version", request.form.get("to_version"))  # nonsense: the boundary's 422
    picked = _picked()
    try:
        if request.form.get("confirm") != "yes":
            p = bulk.plan(ctx, actor(), action, flt, picked, version)
            return render_template(
                "monitor/bulk_confirm.html",
                p=p,
                query=flt.to_query(),
                reason=reason,
                bulk_text=BULK_TEXT,
                limit=bulk.MAX_BULK,
                picked_values=[f"{x.id}:{x.revision}" if x.revision is not None else x.id for x in picked or []],
                version_label=_version_label(flt.process, version) if action == "migrate" else None,
            )
        result = bulk.run(ctx, actor(), action, flt, reason, picked, version)
    except InvalidInput as err:
        flash(err.message, "error")
        return redirect(back)
    return render_template(
        "monitor/bulk_result.html",
        result=result,
        query=flt.to_query(),
        bulk_text=BULK_TEXT,
        version=version,
        status_text=STATUS_TEXT,
    )


def _picked() -> list[bulk.Picked] | None:
    """The ticked instances (None: act on all matching the filter); raises InvalidInput."""
    if request.form.get("scope") != "picked":
        return None
    values = request.form.getlist("ids")
    if len(values) > bulk.MAX_BULK:
        raise InvalidInput(f"tick at most {bulk.MAX_BULK} instances at a time", {"fields": {"ids": "too many"}})
    picked = [bulk.Picked.parse(v) for v in values]
    return list({p.id: p for p in picked}.values())


def _version_label(process: str | None, version: int | None) -> str | None:
    if not process or version is None:
        return None
    choices = migration.other_versions(engine_ctx(), actor(), process)
    return next((c.label for c in choices if c.version == version), f"version {version}")


# ---------------------------------------------------------------- one instance


@bp.get("/monitor/instances/<instance_id>")
@requires("instance.monitor")
def instance(instance_id: str) -> ResponseReturnValue:
    return _render_instance(instance_id)


def _render_instance(instance_id: str, panel: dict[str, Any] | None = None, status: int = 200) -> ResponseReturnValue:
    ctx, who = engine_ctx(), actor()
    d = monitoring.detail(ctx, who, instance_id)
    movable = d.status in ("running", "error") and allowed(who, "instance.migrate")
    marks = {
        "visited": d.visited,
        "active": [t.element_id for t in d.active] + [t.element_id for t in d.external],
        "error": [d.error.get("element_id")] if d.status == "error" and d.error else [],
    }
    return render_template(
        "monitor/instance.html",
        d=d,
        marks=marks,
        status_text=STATUS_TEXT,
        panel=panel or {"errors": {}, "values": {}},
        variables_json=json.dumps(d.variables, indent=2, ensure_ascii=False, sort_keys=True),
        versions=migration.other_versions(ctx, who, d.process, d.version) if movable else [],
    ), status


@bp.post("/monitor/instances/<instance_id>/variables")
@requires("instance.edit_variables")
def edit_variables(instance_id: str) -> ResponseReturnValue:
    raw, reason = request.form.get("variables", ""), request.form.get("reason", "")
    values = {"variables": raw, "reason": reason}
    try:
        wanted = json.loads(raw)
    except (ValueError, RecursionError) as err:  # nested deeper than the decoder goes: not JSON we can take
        return _render_instance(instance_id, {"errors": {"variables": f"not valid JSON: {err}"}, "values": values}, 422)
    if not isinstance(wanted, dict):
        return _render_instance(instance_id, {"errors": {"variables": "must be a JSON object"}, "values": values}, 422)
    ctx = engine_ctx()
    current = monitoring.detail(ctx, actor(), instance_id).variables
    changes = {k: v for k, v in wanted.items() if k not in current or current[k] != v}
    removed = [k for k in current if k not in wanted]
    try:
        done = monitoring.edit_variables(ctx, actor(), instance_id, changes, removed, reason)
    except InvalidInput as err:
        return _render_instance(instance_id, {"errors": field_errors(err) | {"_": err.message}, "values": values}, 422)
    except Conflict as err:
        flash(err.message, "error")
        return redirect(url_for("monitor.instance", instance_id=instance_id))
    flash(f"Variables changed: {', '.join(sorted(done.changes))}.", "info")
    return redirect(url_for("monitor.instance", instance_id=instance_id, _anchor="variables"))


@bp.post("/monitor/instances/<instance_id>/cancel")
@requires("instance.cancel_any")
def cancel(instance_id: str) -> ResponseReturnValue:
    try:
        instances.cancel(engine_ctx(), actor(), instance_id, request.form.get("reason", ""))
    except (InvalidInput, Conflict) as err:
        flash(err.message, "error")
        return redirect(url_for("monitor.instance", instance_id=instance_id))
    flash("The instance is cancelled.", "info")
    return redirect(url_for("monitor.instance", instance_id=instance_id))


@bp.post("/monitor/instances/<instance_id>/retry")
@requires("instance.retry")
def retry(instance_id: str) -> ResponseReturnValue:
    try:
        view = instances.retry(engine_ctx(), actor(), instance_id, None)
    except (InvalidInput, Conflict, IncidentError) as err:
        flash(err.message, "error")
        return redirect(url_for("monitor.instance", instance_id=instance_id))
    flash(
        "Retried: the instance is " + STATUS_TEXT.get(view.status, view.status).lower() + ".",
        "error" if view.status == "error" else "info",
    )
    return redirect(url_for("monitor.instance", instance_id=instance_id))


# ---------------------------------------------------------------- moving to another version


@bp.get("/monitor/instances/<instance_id>/migrate")
@requires("instance.migrate")
def migration_plan(instance_id: str) -> ResponseReturnValue:
    """Choose a version, see what would change and why it might be refused, then confirm."""
    ctx = engine_ctx()
    version = bounds.parameter("version", request.args.get("version"))
    d = monitoring.detail(ctx, actor(), instance_id)
    versions = migration.other_versions(ctx, actor(), d.process, d.version)
    p = migration.plan(ctx, actor(), instance_id, version) if version is not None else None
    return render_template(
        "monitor/migrate.html", d=d, versions=versions, version=version, p=p, status_text=STATUS_TEXT
    )


@bp.post("/monitor/instances/<instance_id>/migrate")
@requires("instance.migrate")
def migrate(instance_id: str) -> ResponseReturnValue:
    version = bounds.parameter("version", request.form.get("version"))
    if version is None:
        flash("Choose the version to move to.", "error")
        return redirect(url_for("monitor.migration_plan", instance_id=instance_id))
    try:
        done = migration.migrate(engine_ctx(), actor(), instance_id, version, request.form.get("reason", ""))
    except (InvalidInput, Conflict) as err:
        flash(err.message, "error")
        return redirect(url_for("monitor.migration_plan", instance_id=instance_id, version=version))
    flash(
        f"Moved from version {done.from_version} to version {done.to_version}; "
        f"{len(done.kept_tasks)} open task{'' if len(done.kept_tasks) == 1 else 's'} kept.",
        "info",
    )
    return redirect(url_for("monitor.instance", instance_id=instance_id))


# ---------------------------------------------------------------- the dashboard


@bp.get("/dashboard")
@requires("instance.monitor")
def board() -> ResponseReturnValue:
    ctx = engine_ctx()
    errors: dict[str, str] = {}
    try:
        since, until = dashboard.period(request.args.get("since"), request.args.get("until"), ctx.clock.now().date())
    except InvalidInput as err:
        errors = field_errors(err)
        since, until = dashboard.period(None, None, ctx.clock.now().date())
    process = (request.args.get("process") or "").strip() or None
    d = dashboard.overview(ctx, actor(), since, until, process)
    return render_template(
        "monitor/dashboard.html",
        d=d,
        errors=errors,
        charts=_charts(d),
        heat=[
            {
                "element_id": s.element_id,
                "heat": s.heat,
                "wait": charts.duration(s.median_wait_seconds) if s.median_wait_seconds is not None else None,
                "overdue": s.overdue.value,
                "open": s.open.value,
                "href": _link(s.open.filters),
            }
            for s in d.steps
        ],
    ), 422 if errors else 200


def _link(filters: dict[str, str]) -> str:
    values: dict[str, Any] = filters  # (url_for's own options start with "_"; filter names do not)
    return url_for("monitor.index", **values)


def _charts(d: dashboard.Dashboard) -> dict[str, Any]:
    bars = [
        charts.Bar(
            p.name,
            [
                charts.Part(p.completed.value, _link(p.completed.filters), "s-completed", "completed"),
                charts.Part(p.in_progress.value, _link(p.in_progress.filters), "s-running", "in progress"),
                charts.Part(p.in_error.value, _link(p.in_error.filters), "s-error", "in error"),
                charts.Part(p.cancelled.value, _link(p.cancelled.filters), "s-cancelled", "cancelled"),
            ],
            note=f"{p.started.value:,} started",
        )
        for p in d.processes
    ]
    cycle = [
        charts.Bar(
            p.name,
            [
                charts.Part(p.median_cycle_seconds or 0, _link(p.completed.filters), "s-median", "median"),
                charts.Part(
                    max(0.0, (p.p90_cycle_seconds or 0) - (p.median_cycle_seconds or 0)),
                    _link(p.completed.filters),
                    "s-p90",
                    "more up to p90",
                ),
            ],
            note=(
                f"median {charts.duration(p.median_cycle_seconds)} · p90 {charts.duration(p.p90_cycle_seconds)}"
                if p.median_cycle_seconds is not None
                else "none completed"
            ),
        )
        for p in d.processes
    ]
    groups = [
        charts.Bar(
            g.group,
            [
                charts.Part(g.overdue.value, _link(g.overdue.filters), "s-error", "overdue"),
                charts.Part(g.open.value - g.overdue.value, _link(g.open.filters), "s-running", "open, in time"),
            ],
            note=f"{g.open.value:,} open · {g.overdue.value:,} overdue",
        )
        for g in d.groups
    ]
    days = [
        charts.Column(day.day.strftime("%d %b"), [(day.started, "s-running"), (day.completed, "s-completed")])
        for day in d.days
    ]
    return {
        "status": charts.hbars(bars, "Instances by status, per process") if bars else None,
        "cycle": charts.hbars(cycle, "Cycle time, per process", fmt=charts.duration) if cycle else None,
        "groups": charts.hbars(groups, "Open work per group") if groups else None,
        "days": charts.columns(days, "Started and completed per day"),
    }


# ---------------------------------------------------------------- retention


@bp.route("/monitor/retention", methods=["GET", "POST"])
@requires("retention.manage")
def retention_settings() -> ResponseReturnValue:
    ctx = engine_ctx()
    errors: dict[str, str] = {}
    if request.method == "POST":
        process = request.form.get("process", "")
        raw = request.form.get("days", "").strip()
        try:
            days = int(raw) if raw else None
        except ValueError:
            errors = {process: "days must be a whole number (or empty to keep for ever)"}
        else:
            try:
                retention.set_policy(ctx, actor(), process, days)
            except InvalidInput as err:
                errors = {process: err.message}
        if not errors:
            flash(f"Retention of {process}: " + (f"{days} days" if days else "kept for ever") + ".", "info")
            return redirect(url_for("monitor.retention_settings"))
    rows = retention.policies(ctx, actor())
    return render_template("monitor/retention.html", rows=rows, errors=errors), 422 if errors else 200


@bp.app_template_filter("duration")
def duration(seconds: float | None) -> str:
    """'42 s', '4.5 min', '17 h', '3.2 d', '–' (charts.duration)."""
    return charts.duration(seconds)
