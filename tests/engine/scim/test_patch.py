"""PATCH operations on SCIM documents, in the forms Okta and Microsoft Entra ID send (no database)."""

from __future__ import annotations

import pytest

from engine.scim.documents import GROUP_SHAPE, USER_SHAPE, user_fields
from engine.scim.errors import ENTERPRISE_USER, ScimError
from engine.scim.patch import apply

USER = {
    "userName": "bjensen",
    "name": {"givenName": "Barbara", "familyName": "Jensen"},
    "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
    "active": True,
}
GROUP = {"displayName": "Finance", "members": [{"value": "a"}, {"value": "b"}, {"value": "c"}]}


def patched(doc, *operations, shape=USER_SHAPE):  # type: ignore[no-untyped-def]
    return apply(doc, {"Operations": list(operations)}, shape)


def test_a_pathless_replace_takes_paths_as_keys_and_ignores_the_enterprise_extension():
    doc = patched(
        USER,
        {
            "op": "Replace",
            "value": {
                "name.givenName": "Babs",
                'emails[type eq "work"].value': "babs@example.com",
                ENTERPRISE_USER: {"department": "Sales"},
                f"{ENTERPRISE_USER}:employeeNumber": "7",
                "title": "Lead",
            },
        },
    )
    assert doc["name"] == {"givenName": "Babs", "familyName": "Jensen"}
    assert doc["emails"] == [{"value": "babs@example.com", "type": "work", "primary": True}]
    assert USER["name"]["givenName"] == "Barbara"  # the input is left as it was


def test_a_value_filter_that_matches_nothing_makes_the_element():
    doc = patched({**USER, "emails": []}, {"op": "add", "path": 'emails[type eq "work"].value', "value": "x@y.org"})
    assert doc["emails"] == [{"type": "work", "value": "x@y.org"}]
    assert user_fields(doc).email == "x@y.org"
    removed = patched(USER, {"op": "remove", "path": 'emails[type eq "work"]'})
    assert removed["emails"] == [] and user_fields(removed).email is None


def test_string_booleans_and_capitalised_ops():
    assert user_fields(patched(USER, {"op": "Replace", "path": "active", "value": "False"})).active is False
    assert user_fields(patched(USER, {"op": "replace", "value": {"active": "true"}})).active is True


def test_members_added_once_removed_by_filter_by_value_list_or_all():
    added = patched(
        GROUP, {"op": "Add", "path": "members", "value": [{"value": "b"}, {"value": "d"}]}, shape=GROUP_SHAPE
    )
    assert [m["value"] for m in added["members"]] == ["a", "b", "c", "d"]
    by_filter = patched(GROUP, {"op": "remove", "path": 'members[value eq "b"]'}, shape=GROUP_SHAPE)
    assert [m["value"] for m in by_filter["members"]] == ["a", "c"]
    by_list = patched(GROUP, {"op": "Remove", "path": "members", "value": [{"value": "a"}]}, shape=GROUP_SHAPE)
    assert [m["value"] for m in by_list["members"]] == ["b", "c"]
    assert patched(GROUP, {"op": "remove", "path": "members"}, shape=GROUP_SHAPE)["members"] == []
    odd = patched(GROUP, {"op": "add", "path": "members", "value": [{"value": {"x": [1]}}, [2]]}, shape=GROUP_SHAPE)
    assert odd["members"][3:] == [{"value": {"x": [1]}}, [2]]  # kept for the resource's parser to refuse
    replaced = patched(GROUP, {"op": "replace", "path": "members", "value": [{"value": "z"}]}, shape=GROUP_SHAPE)
    assert replaced["members"] == [{"value": "z"}]


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ({"Operations": []}, "invalidSyntax"),
        ({"schemas": ["urn:other"], "Operations": [{"op": "add", "path": "title", "value": 1}]}, "invalidSyntax"),
        ({"Operations": [{"op": "add", "path": 5, "value": 1}]}, "invalidPath"),
        ({"Operations": [{"op": "add", "path": "urn:x:y:z:attr", "value": 1}]}, "invalidPath"),
        ({"Operations": [{"op": "add", "value": "not an object"}]}, "invalidValue"),
        ({"Operations": [{"op": "replace", "path": "active"}]}, "invalidValue"),
        (
            {"Operations": [{"op": "replace", "path": 'emails[type eq "home" or type eq "x"].value', "value": "v"}]},
            "noTarget",
        ),
        ({"Operations": [{"op": "replace", "path": "active.sub", "value": 1}]}, "invalidPath"),
    ],
)
def test_bad_operations_name_their_problem(body, scim_type):
    with pytest.raises(ScimError) as raised:
        apply(USER, body, USER_SHAPE)
    assert (raised.value.status, raised.value.scim_type) == (400, scim_type)
