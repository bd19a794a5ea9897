"""Saved views on SQLite and PostgreSQL: who saves, who sees, who changes and deletes."""

from __future__ import annotations

import pytest

from engine.core.errors import Forbidden, InvalidInput, NotFound
from engine.lists import saved_views as views
from tests.factories import ADMIN, ALICE, AUDREY, BOB, actor

ALICE_TOO = actor("ivan", "IT Manager")  # alice's group mate
DANA = actor("dana", roles=("designer",))


def names(ctx, who, page="inbox") -> list[str]:
    return [v.name for v in views.list_views(ctx, who, page)]


def test_the_query_string_has_one_form():
    assert views.normalise("due=overdue&page=3&scope=mine&q=&partial=1") == "due=overdue&scope=mine"
    assert views.normalise("scope=mine&due=overdue") == views.normalise("due=overdue&scope=mine")
    assert views.normalise([("process", " project-intake "), ("csrf_token", "x")]) == "process=project-intake"
    with pytest.raises(InvalidInput) as err:
        views.normalise("q=" + "x" * 3000)
    assert err.value.details["fields"] == {"query": "at most 2000 characters"}


def test_a_private_view_is_its_owners_alone(ctx):
    saved = views.save_view(ctx, ALICE, "inbox", "  My   overdue ", "due=overdue&page=2")
    assert (saved.name, saved.query, saved.shared, saved.mine) == ("My overdue", "due=overdue", "private", True)
    assert names(ctx, ALICE) == ["My overdue"]
    assert names(ctx, ALICE_TOO) == names(ctx, BOB) == []
    with pytest.raises(NotFound):
        views.delete_view(ctx, BOB, saved.id)  # another's private view does not exist for them
    with pytest.raises(NotFound):
        views.delete_view(ctx, ADMIN, saved.id)


def test_a_view_shared_with_a_group_reaches_its_members_only(ctx):
    mine = views.save_view(ctx, ALICE, "inbox", "Zebra", "scope=mine")
    shared = views.save_view(ctx, ALICE, "inbox", "IT overdue", "due=overdue", "group", "IT Manager")
    views.save_view(ctx, ALICE_TOO, "inbox", "Apples", "sort=name")
    assert names(ctx, ALICE) == ["IT overdue", "Zebra"]  # own views first, by name
    seen = views.list_views(ctx, ALICE_TOO, "inbox")
    assert [(v.name, v.mine, v.owner) for v in seen] == [("Apples", True, "ivan"), ("IT overdue", False, "alice")]
    assert seen[1].audience == "shared with IT Manager"
    assert names(ctx, BOB) == []
    with pytest.raises(Forbidden):
        views.update_view(ctx, ALICE_TOO, shared.id, "Mine now")  # seen, but not theirs to change
    with pytest.raises(Forbidden):
        views.delete_view(ctx, ALICE_TOO, shared.id)
    views.delete_view(ctx, ALICE, mine.id)
    assert names(ctx, ALICE) == ["IT overdue"]


def test_only_designers_and_admins_share_with_everyone(ctx):
    with pytest.raises(InvalidInput) as err:
        views.save_view(ctx, ALICE, "inbox", "For all", "due=week", "everyone")
    assert err.value.details["fields"] == {"shared": "not allowed for you"}
    with pytest.raises(InvalidInput) as err:
        views.save_view(ctx, ALICE, "inbox", "For finance", "due=week", "group", "Finance")
    assert err.value.details["fields"] == {"group": "not a group of yours"}
    for_all = views.save_view(ctx, DANA, "inbox", "Due this week, everyone", "due=week", "everyone")
    assert names(ctx, BOB) == names(ctx, AUDREY) == ["Due this week, everyone"]
    views.delete_view(ctx, ADMIN, for_all.id)  # an admin removes a shared view
    assert names(ctx, BOB) == []


def test_names_are_unique_per_owner_and_page_whatever_the_case(ctx):
    first = views.save_view(ctx, ALICE, "inbox", "Overdue", "due=overdue")
    with pytest.raises(InvalidInput) as err:
        views.save_view(ctx, ALICE, "inbox", "OVERDUE", "due=week")
    assert err.value.details["fields"] == {"name": "already used"}
    views.save_view(ctx, BOB, "inbox", "Overdue", "due=overdue")  # another owner: fine
    views.save_view(ctx, ADMIN, "monitor", "Overdue", "sla=overdue")
    other = views.save_view(ctx, ALICE, "inbox", "Week", "due=week")
    with pytest.raises(InvalidInput):
        views.update_view(ctx, ALICE, other.id, "overdue")
    renamed = views.update_view(ctx, ALICE, first.id, "Overdue (IT)", "group", "IT Manager")
    assert (renamed.name, renamed.shared, renamed.group, renamed.query) == (
        "Overdue (IT)",
        "group",
        "IT Manager",
        "due=overdue",
    )
    assert views.update_view(ctx, ALICE, first.id, "overdue (it)").shared == "private"  # case change, unshared


def test_a_page_is_saved_only_by_who_may_use_it(ctx):
    with pytest.raises(Forbidden):
        views.save_view(ctx, ALICE, "monitor", "Mine", "process=x")
    with pytest.raises(Forbidden):
        views.list_views(ctx, ALICE, "audit")
    with pytest.raises(InvalidInput) as err:
        views.save_view(ctx, ALICE, "nowhere", "x", "")
    assert err.value.details["fields"] == {"page": "unknown"}
    views.save_view(ctx, AUDREY, "audit", "Sign-ins", "type=login")
    views.save_view(ctx, AUDREY, "inbox", "All", "")
    assert [(v.page, v.name) for v in views.my_views(ctx, AUDREY)] == [("audit", "Sign-ins"), ("inbox", "All")]


@pytest.mark.parametrize("name", ["", "   ", "x" * 81])
def test_a_bad_name_is_refused_with_its_field(ctx, name):
    with pytest.raises(InvalidInput) as err:
        views.save_view(ctx, ALICE, "inbox", name, "due=week")
    assert set(err.value.details["fields"]) == {"name"}


def test_an_owner_keeps_at_most_fifty_views_of_a_page(ctx, monkeypatch):
    monkeypatch.setattr(views, "MAX_VIEWS_PER_PAGE", 2)
    views.save_view(ctx, ALICE, "inbox", "a", "")
    views.save_view(ctx, ALICE, "inbox", "b", "")
    with pytest.raises(InvalidInput, match="delete one first"):
        views.save_view(ctx, ALICE, "inbox", "c", "")


def test_a_name_taken_at_the_same_moment_is_refused_not_a_server_error(ctx, monkeypatch):
    """Two saves racing past the name check meet the unique constraint: the second is told, as if checked."""
    views.save_view(ctx, ALICE, "inbox", "Overdue", "due=overdue")
    monkeypatch.setattr(views, "_check_name_free", lambda *args: None)
    with pytest.raises(InvalidInput) as err:
        views.save_view(ctx, ALICE, "inbox", "Overdue", "due=week")
    assert err.value.details["fields"] == {"name": "already used"}
    assert [v.query for v in views.list_views(ctx, ALICE, "inbox")] == ["due=overdue"]
