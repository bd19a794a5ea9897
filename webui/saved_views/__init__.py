"""Saved views of the list pages: save, rename (and re-share), delete, list; and the panel a list page includes.

A list page shows its views with one line of its template (see webui/README.md, "Saved views"):
`{% from "saved_views/_panel.html" import saved_views %}{{ saved_views("inbox", builtins) }}`. The
panel reads the page's current query string, marks the view showing, and offers "Save this view".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from engine.core.errors import InvalidInput
from engine.core.permissions import allowed
from engine.lists import saved_views as service
from engine.lists.saved_views import SavedViewView
from webui.security import actor, engine_ctx, requires

bp = Blueprint("saved_views", __name__, template_folder="templates")

# page key (engine.lists.saved_views.PAGES) -> the endpoint of its list
LIST_ENDPOINTS = {"inbox": "tasklist.inbox", "monitor": "monitor.index", "audit": "audit.search"}
PAGE_TITLES = {"inbox": "Tasks", "monitor": "Monitor", "audit": "Audit"}


@dataclass(frozen=True)
class Panel:
    """What the views panel of one list page shows."""

    page: str
    views: list[SavedViewView]
    current: str  # the page's query string now, normalised
    list_url: str
    audiences: dict[str, str] = field(default_factory=dict)  # value of the "who sees it" select -> label

    def href(self, query: str) -> str:
        text = service.normalise(query)
        return f"{self.list_url}?{text}" if text else self.list_url

    def is_current(self, query: str) -> bool:
        return service.normalise(query) == self.current


def audiences() -> dict[str, str]:
    """The choices of "who sees it" for the signed-in user: only them, each of their groups, everyone."""
    me = actor()
    choices = {"private": "Only me"}
    choices.update({f"group:{g}": f"Group {g}" for g in sorted(me.groups)})
    if allowed(me, "view.share_all"):
        choices["everyone"] = "Everyone"
    return choices


def panel_of(page: str) -> Panel:
    """The panel of `page` for the signed-in user and the request's query string (a Jinja global)."""
    views = service.list_views(engine_ctx(), actor(), page)
    try:
        current = service.normalise(list(request.args.items(multi=True)))
    except InvalidInput:
        current = ""
    return Panel(page, views, current, url_for(LIST_ENDPOINTS[page]), audiences())


def _audience(raw: str) -> tuple[str, str | None]:
    if raw.startswith("group:"):
        return "group", raw.removeprefix("group:")
    return raw, None


@bp.get("/views")
@requires("view.save")
def manage() -> ResponseReturnValue:
    ctx, me = engine_ctx(), actor()
    pages = [p for p in LIST_ENDPOINTS if allowed(me, service.PAGES[p])]
    shared = {p: [v for v in service.list_views(ctx, me, p) if not v.mine] for p in pages}
    return render_template(
        "saved_views/manage.html",
        mine=service.my_views(ctx, me),
        shared=shared,
        titles=PAGE_TITLES,
        endpoints=LIST_ENDPOINTS,
        audiences=audiences(),
    )


@bp.post("/views")
@requires("view.save")
def save() -> ResponseReturnValue:
    form = request.form
    page = form.get("page", "")
    shared, group = _audience(form.get("audience", "private"))
    try:
        view = service.save_view(
            engine_ctx(), actor(), page, form.get("name", ""), form.get("query", ""), shared, group
        )
    except InvalidInput as err:
        flash(f"The view was not saved: {err.message}.", "error")
        target = url_for(LIST_ENDPOINTS[page]) if page in LIST_ENDPOINTS else url_for(".manage")
        query = form.get("query", "")
        return redirect(f"{target}?{query}" if query and len(query) <= service.QUERY_LIMIT else target)
    flash(f"Saved the view {view.name!r} ({view.audience}).", "info")
    return redirect(_list_url(view))


@bp.post("/views/<view_id>/rename")
@requires("view.save")
def rename(view_id: str) -> ResponseReturnValue:
    form = request.form
    shared, group = _audience(form.get("audience", "private"))
    try:
        view = service.update_view(engine_ctx(), actor(), view_id, form.get("name", ""), shared, group)
    except InvalidInput as err:
        flash(f"The view was not changed: {err.message}.", "error")
    else:
        flash(f"Saved the view {view.name!r} ({view.audience}).", "info")
    return redirect(url_for(".manage"))


@bp.post("/views/<view_id>/delete")
@requires("view.save")
def delete(view_id: str) -> ResponseReturnValue:
    view = service.delete_view(engine_ctx(), actor(), view_id)
    flash(f"Deleted the view {view.name!r}.", "info")
    return redirect(url_for(".manage"))


def _list_url(view: SavedViewView) -> str:
    base = url_for(LIST_ENDPOINTS[view.page])
    return f"{base}?{view.query}" if view.query else base


def init_app(app: Flask) -> None:
    """Register the blueprint and the panel's Jinja global."""
    app.register_blueprint(bp)
    app.jinja_env.globals["saved_views_of"] = panel_of
