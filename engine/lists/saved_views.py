"""Saved views: a list page's filter kept under a name, private, shared with a group or with everyone.

A view belongs to one list page (`PAGES`: the inbox, the monitor, the audit search) and holds the
page's query string, normalised (`normalise`): paging and one-off parameters dropped, keys sorted,
empty values left out. Anyone who may use a page may save views of it; the owner shares one with a
group they are in, and people who set up others' work (`view.share_all`) with everyone. Only the
owner renames or changes a view; the owner, and an admin for a shared view, deletes it. A view
somebody may not see (another's private view, a group's they are not in) is "not found" to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core.context import EngineContext
from engine.core.errors import Forbidden, InvalidInput, NotFound
from engine.core.permissions import Actor, allowed, require
from engine.db.models import SavedView
from engine.db.uow import UnitOfWork

# page key -> the permission its list needs (a view of a page one may not use cannot be saved)
PAGES: dict[str, str] = {"inbox": "task.read_own", "monitor": "instance.monitor", "audit": "audit.read"}
SHARING = {"private": "Only me", "group": "A group I am in", "everyone": "Everyone"}
IGNORED_PARAMETERS = frozenset({"page", "partial", "csrf_token", "view"})
NAME_LIMIT = 80
QUERY_LIMIT = 2000
MAX_VIEWS_PER_PAGE = 50  # one owner's views of one page


@dataclass(frozen=True)
class SavedViewView:
    id: str
    page: str
    name: str
    query: str
    owner: str
    shared: str  # private | group | everyone
    group: str | None
    mine: bool
    updated_at: datetime

    @property
    def audience(self) -> str:
        """Who sees it, as pages say it."""
        if self.shared == "group":
            return f"shared with {self.group}"
        return "shared with everyone" if self.shared == "everyone" else "private"


def normalise(query: str | list[tuple[str, str]]) -> str:
    """A page's query string in one form: paging and one-off parameters dropped, keys sorted, empty
    values left out, so the same filter always reads the same. Raises InvalidInput when too long."""
    pairs = parse_qsl(query, keep_blank_values=False) if isinstance(query, str) else list(query)
    kept = sorted((k, v.strip()) for k, v in pairs if k not in IGNORED_PARAMETERS and v.strip())
    text = urlencode(kept)
    if len(text) > QUERY_LIMIT:
        raise InvalidInput("the filter is too long to save", {"fields": {"query": f"at most {QUERY_LIMIT} characters"}})
    return text


def list_views(ctx: EngineContext, actor: Actor, page: str) -> list[SavedViewView]:
    """The views of `page` the actor may use: their own first, then those shared with them, each by name.
    Raises InvalidInput for an unknown page, Forbidden."""
    _require_page(actor, page)
    with ctx.uow(write=False) as uow:
        rows = uow.session.scalars(
            select(SavedView)
            .where(SavedView.page == page, _visible(actor))
            .order_by(SavedView.owner != actor.username, func.lower(SavedView.name), SavedView.id)
        ).all()
        return [_view(row, actor) for row in rows]


def my_views(ctx: EngineContext, actor: Actor) -> list[SavedViewView]:
    """Every view the actor owns, of the pages they may use, by page and name; raises Forbidden."""
    require(actor, "view.save")
    pages = [p for p, permission in PAGES.items() if allowed(actor, permission)]
    with ctx.uow(write=False) as uow:
        rows = uow.session.scalars(
            select(SavedView)
            .where(SavedView.owner == actor.username, SavedView.page.in_(pages or [""]))
            .order_by(SavedView.page, func.lower(SavedView.name), SavedView.id)
        ).all()
        return [_view(row, actor) for row in rows]


def save_view(
    ctx: EngineContext,
    actor: Actor,
    page: str,
    name: str,
    query: str,
    shared: str = "private",
    group: str | None = None,
) -> SavedViewView:
    """Save the filter `query` of `page` as the actor's view `name`; raises InvalidInput (each problem by
    field: name, shared, group, query, page), Forbidden."""
    _require_page(actor, page)
    name = _name(name)
    shared, group = _audience(actor, shared, group)
    text = normalise(query)
    with ctx.uow() as uow:
        session = uow.session
        _check_name_free(session, actor, page, name)
        count = session.scalar(select(func.count()).where(SavedView.owner == actor.username, SavedView.page == page))
        if (count or 0) >= MAX_VIEWS_PER_PAGE:
            raise InvalidInput(
                f"you have {MAX_VIEWS_PER_PAGE} views of this page already; delete one first",
                {"fields": {"name": "too many views"}},
            )
        now = ctx.clock.now()
        row = SavedView(
            owner=actor.username,
            page=page,
            name=name,
            query=text,
            shared=shared,
            group_name=group,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        return _commit(uow, row, actor, name)


def update_view(
    ctx: EngineContext, actor: Actor, view_id: str, name: str, shared: str = "private", group: str | None = None
) -> SavedViewView:
    """Rename a view of the actor's and choose who sees it; raises NotFound, Forbidden (not the owner),
    InvalidInput."""
    require(actor, "view.save")
    name = _name(name)
    shared, group = _audience(actor, shared, group)
    with ctx.uow() as uow:
        session = uow.session
        row = _load(session, actor, view_id)
        if row.owner != actor.username:
            raise Forbidden(f"only {row.owner} may change the view {row.name!r}")
        if name.lower() != row.name.lower():
            _check_name_free(session, actor, row.page, name)
        row.name, row.shared, row.group_name, row.updated_at = name, shared, group, ctx.clock.now()
        return _commit(uow, row, actor, name)


def delete_view(ctx: EngineContext, actor: Actor, view_id: str) -> SavedViewView:
    """Delete a view: its owner, or an admin for a shared one; raises NotFound, Forbidden."""
    require(actor, "view.save")
    with ctx.uow() as uow:
        row = _load(uow.session, actor, view_id)
        if row.owner != actor.username and not (actor.is_admin and row.shared != "private"):
            raise Forbidden(f"only {row.owner} may delete the view {row.name!r}")
        view = _view(row, actor)
        uow.session.delete(row)
        uow.commit()
        return view


def _require_page(actor: Actor, page: str) -> None:
    require(actor, "view.save")
    permission = PAGES.get(page)
    if permission is None:
        raise InvalidInput(f"no list page {page!r} has saved views", {"fields": {"page": "unknown"}})
    require(actor, permission)


def _visible(actor: Actor) -> ColumnElement[bool]:
    return or_(
        SavedView.owner == actor.username,
        SavedView.shared == "everyone",
        (SavedView.shared == "group") & SavedView.group_name.in_(sorted(actor.groups) or [""]),
    )


def _load(session: Session, actor: Actor, view_id: str) -> SavedView:
    row = session.scalars(select(SavedView).where(SavedView.uuid == view_id, _visible(actor))).first()
    if row is None:
        raise NotFound(f"view {view_id} does not exist")
    return row


def _name(raw: str) -> str:
    name = " ".join((raw or "").split())
    if not name:
        raise InvalidInput("name the view", {"fields": {"name": "required"}})
    if len(name) > NAME_LIMIT:
        raise InvalidInput("the name is too long", {"fields": {"name": f"at most {NAME_LIMIT} characters"}})
    return name


def _audience(actor: Actor, shared: str, group: str | None) -> tuple[str, str | None]:
    """Who will see the view; raises InvalidInput or Forbidden naming what the actor may not share."""
    shared = shared or "private"
    if shared not in SHARING:
        raise InvalidInput("choose who sees the view", {"fields": {"shared": "unknown"}})
    if shared == "everyone" and not allowed(actor, "view.share_all"):
        raise InvalidInput(
            "only designers and admins share views with everyone; share it with a group of yours",
            {"fields": {"shared": "not allowed for you"}},
        )
    if shared != "group":
        return shared, None
    group = (group or "").strip()
    if not group:
        raise InvalidInput("choose the group to share with", {"fields": {"group": "required"}})
    if group not in actor.groups and not actor.is_admin:
        raise InvalidInput(f"you are not in {group}", {"fields": {"group": "not a group of yours"}})
    return shared, group


def _check_name_free(session: Session, actor: Actor, page: str, name: str) -> None:
    taken = session.scalar(
        select(SavedView.id).where(
            SavedView.owner == actor.username, SavedView.page == page, func.lower(SavedView.name) == name.lower()
        )
    )
    if taken is not None:
        raise InvalidInput(
            f"you already have a view named {name!r}; choose another name or rename that one",
            {"fields": {"name": "already used"}},
        )


def _commit(uow: UnitOfWork, row: SavedView, actor: Actor, name: str) -> SavedViewView:
    """Commit the view; a name taken at the same moment (the unique constraint) is the same InvalidInput."""
    try:
        uow.session.flush()
        view = _view(row, actor)
        uow.commit()
    except IntegrityError as err:
        raise InvalidInput(
            f"you already have a view named {name!r}; choose another name or rename that one",
            {"fields": {"name": "already used"}},
        ) from err
    return view


def _view(row: SavedView, actor: Actor) -> SavedViewView:
    return SavedViewView(
        row.uuid,
        row.page,
        row.name,
        row.query,
        row.owner,
        row.shared,
        row.group_name,
        row.owner == actor.username,
        row.updated_at,
    )
