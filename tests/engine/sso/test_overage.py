"""Group overage (engine/sso/overage.py): the marker found in an ID token, the claim fetched from its source
through the one outbound client (pages along @odata.nextLink, bounded), and every way it can fail named."""

from __future__ import annotations

import pytest

from engine.sso import overage
from engine.sso.provider import ProviderConfig
from tests.identity import GroupsSource

CONFIG = ProviderConfig("https://idp.example.com", "client", "secret", allow_private=True, timeout=5.0)
STRICT = ProviderConfig("https://idp.example.com", "client", "secret", allow_private=False, timeout=5.0)


def test_the_overage_marker_is_found_and_a_carried_or_absent_claim_is_none():
    sources = {"_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {"endpoint": "https://g/x"}}}
    assert overage.detect(sources, "groups") == overage.Overage("groups", "https://g/x", None)
    assert overage.detect({**sources, "groups": ["a"]}, "groups") is None  # carried: nothing to fetch
    assert overage.detect({}, "groups") is None  # absent without a marker: no values
    assert overage.detect(sources, "roles") is None
    assert overage.detect({"hasgroups": True}, "groups") == overage.Overage("groups", None, None)
    assert overage.detect({"hasgroups": "true"}, "groups") == overage.Overage("groups", None, None)
    assert overage.detect({"hasgroups": True}, "roles") is None
    own = {"_claim_names": {"groups": "s"}, "_claim_sources": {"s": {"endpoint": "https://g/x", "access_token": "t"}}}
    assert overage.detect(own, "groups") == overage.Overage("groups", "https://g/x", "t")
    for broken in ({"_claim_names": {"groups": "s"}}, {"_claim_names": {"groups": "s"}, "_claim_sources": {"s": 3}}):
        assert overage.detect(broken, "groups") == overage.Overage("groups", None, None)  # overage, no endpoint


def test_the_claim_is_fetched_page_by_page_with_the_users_access_token(groups_source: GroupsSource):
    groups_source.pages = [["g1", {"id": "g2", "@odata.type": "#microsoft.graph.group"}], [{"id": "g3"}], ["g4"]]
    marker = overage.detect(groups_source.overage(), "groups")
    assert marker is not None
    assert overage.fetch(CONFIG, marker, "user-token") == (["g1", "g2", "g3", "g4"], "127.0.0.1")
    assert [path for path, _ in groups_source.requests] == ["/groups", "/groups?page=1", "/groups?page=2"]
    assert {auth for _, auth in groups_source.requests} == {"Bearer user-token"}
    # a source naming its own access token is asked with that one
    groups_source.requests.clear()
    own = overage.Overage("groups", groups_source.url + "/groups?page=2", "source-token")
    assert overage.fetch(CONFIG, own, "user-token") == (["g4"], "127.0.0.1")
    assert groups_source.requests == [("/groups?page=2", "Bearer source-token")]


def test_an_answer_carrying_the_claim_itself_is_read(groups_source: GroupsSource):
    """A source that is no Graph: its JSON object carries the claim by name."""
    groups_source.pages = [[]]
    marker = overage.Overage("groups", groups_source.url + "/groups", None)
    assert overage.fetch(CONFIG, marker, "t") == ([], "127.0.0.1")


def test_entra_ids_retired_graph_endpoint_is_asked_of_microsoft_graph(groups_source, monkeypatch):
    monkeypatch.setattr(overage, "GRAPH_GROUPS", groups_source.url + "/groups")  # stands in for Microsoft Graph
    groups_source.pages = [["5f1c"]]
    legacy = "https://graph.windows.net/tenant-id/users/object-id/getMemberObjects"
    assert overage.fetch(CONFIG, overage.Overage("groups", legacy, None), "t") == (["5f1c"], "127.0.0.1")
    assert groups_source.requests == [("/groups", "Bearer t")]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/fail", "127.0.0.1 answered 500"),
        ("/text", "127.0.0.1 answered no JSON"),
        ("/loop", "more than 3 pages"),
        ("/away", "next page on another host"),
        ("/broken", "next page on another host or no URL"),
    ],
)
def test_a_source_that_fails_is_unresolved_naming_why(groups_source, monkeypatch, path, reason):
    monkeypatch.setattr(overage, "MAX_PAGES", 3)
    with pytest.raises(overage.Unresolved, match=reason):
        overage.fetch(CONFIG, overage.Overage("groups", groups_source.url + path, None), "t")
    assert all("9/groups" not in p for p, _ in groups_source.requests)  # the token never went to another host


def test_too_many_values_is_unresolved_rather_than_a_partial_list(groups_source, monkeypatch):
    monkeypatch.setattr(overage, "MAX_VALUES", 3)
    groups_source.pages = [["a", "b"], ["c", "d"]]
    with pytest.raises(overage.Unresolved, match="more than 3 values"):
        overage.fetch(CONFIG, overage.Overage("groups", groups_source.url + "/groups", None), "t")


def test_the_address_policy_and_https_apply(groups_source):
    cases = [
        (CONFIG, overage.Overage("groups", None, None), "t", "names no endpoint"),
        (CONFIG, overage.Overage("groups", groups_source.url + "/groups", None), None, "no access token"),
        (CONFIG, overage.Overage("groups", "http://169.254.169.254/latest/meta-data/", None), "t", "169.254.169.254"),
        (STRICT, overage.Overage("groups", groups_source.url + "/groups", None), "t", "must use https"),
        (STRICT, overage.Overage("groups", "https://127.0.0.1:1/groups", None), "t", "could not be reached"),
        (CONFIG, overage.Overage("groups", "file:///etc/passwd", None), "t", "must use https"),
        (CONFIG, overage.Overage("groups", "https://[::1/groups", None), "t", "not a URL"),
        (CONFIG, overage.Overage("groups", "https://user:pw@127.0.0.1/groups", None), "t", "carries credentials"),
    ]
    for config, marker, token, reason in cases:
        with pytest.raises(overage.Unresolved, match=reason):
            overage.fetch(config, marker, token)
    assert groups_source.requests == []
