"""The email and chat notification settings page (/account/notifications)."""

from __future__ import annotations

import pytest

from engine.core.errors import InvalidInput
from engine.notify import preferences
from tests.factories import ALICE
from tests.webui.conftest import csrf_of

URL = "/account/notifications"


def test_the_page_shows_the_defaults_and_the_missing_address(browser_of):
    client = browser_of("alice")
    page = client.get(URL).get_data(as_text=True)
    assert "Email and chat notifications" in page
    for kind in preferences.KINDS:
        assert f'name="{kind}" value="email" aria-label="Email: ' in page
    defaults = sum(len(k.defaults) for k in preferences.KINDS.values())
    assert page.count(" checked>") == defaults + 1  # each kind's defaults, and the digest's email
    assert 'name="watched_finished" value="bell"' in page and 'name="task_assigned" value="bell"' not in page
    assert "You have no email address" in page
    assert 'href="/account/notifications"' in client.get("/notifications").get_data(as_text=True)


def test_saving_choices_and_a_slack_webhook(app, browser_of):
    client = browser_of("alice")
    token = csrf_of(client, URL)
    secret = "https://hooks.slack.com/services/T000/B000/abcdefghSECRET"
    response = client.post(
        URL,
        data={
            "csrf_token": token,
            "task_assigned": ["email", "slack"],
            "sla_breached": "teams",
            "slack_webhook": secret,
        },
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(URL)
    ctx = app.extensions["pmoflow"]
    chosen = {k.name: set(k.channels) for k in preferences.preferences(ctx, ALICE).kinds}
    assert chosen["task_assigned"] == {"email", "slack"} and chosen["sla_breached"] == {"teams"}
    assert chosen["task_reminder"] == set() and chosen["instance_finished"] == set()
    page = client.get(URL).get_data(as_text=True)
    assert "Saved your notification settings." in page
    assert "hooks.slack.com/…/CRET" in page and secret not in page and "T000/B000" not in page
    token = csrf_of(client, URL)
    client.post(URL, data={"csrf_token": token, "task_assigned": "email"})  # empty field: kept
    assert preferences.preferences(ctx, ALICE).slack_webhook == "hooks.slack.com/…/CRET"
    client.post(URL, data={"csrf_token": token, "task_assigned": "email", "remove_slack": "1"})
    assert preferences.preferences(ctx, ALICE).slack_webhook is None


def test_a_webhook_on_another_host_is_refused_and_nothing_is_saved(app, browser_of):
    client = browser_of("alice")
    token = csrf_of(client, URL)
    response = client.post(
        URL, data={"csrf_token": token, "task_assigned": "slack", "teams_webhook": "https://attacker.example/hook"}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Nothing was saved" in page and "The URL must be on *.webhook.office.com" in page
    assert 'value="https://attacker.example/hook"' in page  # kept for correcting
    chosen = {k.name: set(k.channels) for k in preferences.preferences(app.extensions["pmoflow"], ALICE).kinds}
    assert chosen["task_assigned"] == {"email", "slack", "teams"}  # unchanged defaults


def test_the_form_needs_its_csrf_token(browser_of):
    client = browser_of("alice")
    assert client.post(URL, data={"task_assigned": "email"}).status_code == 400


def test_the_digest_is_chosen_on_the_page(app, browser_of):
    client = browser_of("alice")
    token = csrf_of(client, URL)
    form = {"csrf_token": token, "task_assigned": "email", "digest_enabled": "1", "digest_time": "07:15"}
    response = client.post(URL, data={**form, "digest_zone": "Europe/Paris", "digest_channels": ["email", "teams"]})
    assert response.status_code == 302
    ctx = app.extensions["pmoflow"]
    mine = preferences.preferences(ctx, ALICE).digest
    assert (mine.enabled, mine.time, mine.zone, mine.channels) == (True, "07:15", "Europe/Paris", {"email", "teams"})
    page = client.get(URL).get_data(as_text=True)
    assert (
        'name="digest_enabled" value="1" checked' in page and 'value="07:15"' in page and 'value="Europe/Paris"' in page
    )
    bad = client.post(URL, data={**form, "digest_time": "7 am", "digest_zone": "Nowhere/Land"})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert (
        "The time must be a time of day as HH:MM" in text and "&#39;Nowhere/Land&#39; is not a known time zone" in text
    )
    assert preferences.preferences(ctx, ALICE).digest.time == "07:15"  # nothing was saved


def test_watch_and_unwatch_on_the_request_page(app, browser_of):
    from tests.webui.conftest import intake

    view = intake(app)
    client = browser_of("alice")  # an IT Manager: the request's first task is her group's
    url = f"/requests/{view.id}"
    page = client.get(url).get_data(as_text=True)
    assert f'action="{url}/watch"' in page and ">Watch</button>" in page
    response = client.post(f"{url}/watch", data={"csrf_token": csrf_of(client, url)})
    assert response.status_code == 302 and response.headers["Location"].endswith(url)
    page = client.get(url).get_data(as_text=True)
    assert ">Unwatch</button>" in page and "1 watching." in page and "You watch this request" in page
    client.post(f"{url}/unwatch", data={"csrf_token": csrf_of(client, url)})
    assert ">Watch</button>" in client.get(url).get_data(as_text=True)
    assert client.post(f"{url}/watch").status_code == 400  # no CSRF token: refused


def test_a_decided_request_offers_no_watching(app, browser_of):
    """'Be told when it is decided' is untrue once it is: a cancelled request's page has no Watch button."""
    from engine.runtime import instances
    from tests.factories import ADMIN
    from tests.webui.conftest import intake

    view = intake(app)
    instances.cancel(app.extensions["pmoflow"], ADMIN, view.id, "a duplicate")
    page = browser_of("alice").get(f"/requests/{view.id}").get_data(as_text=True)
    assert "Cancelled" in page and "/watch" not in page and "Be told when it is decided" not in page
    client = browser_of("alice")
    posted = client.post(f"/requests/{view.id}/watch", data={"csrf_token": csrf_of(client, f"/requests/{view.id}")})
    assert posted.status_code == 409  # a form posted anyway is refused too (engine.requester.watchers)


def test_a_digest_turned_on_without_a_channel_is_refused_on_the_page_and_in_the_api(app, browser_of):
    """'Send me a daily digest' with every channel unticked would save a digest that reaches nobody."""
    client = browser_of("alice")
    form = {"csrf_token": csrf_of(client, URL), "digest_enabled": "1", "digest_time": "07:15"}
    refused = client.post(URL, data=form)  # no digest_channels ticked
    assert refused.status_code == 422
    assert "choose at least one channel for the digest" in refused.get_data(as_text=True)
    ctx = app.extensions["pmoflow"]
    assert preferences.preferences(ctx, ALICE).digest.enabled is False  # nothing was saved
    with pytest.raises(InvalidInput) as err:  # what the API's PUT calls; it names digest.channels
        preferences.save_preferences(ctx, ALICE, None, None, {"enabled": True, "channels": []})
    assert "digest_channels" in err.value.details["fields"]
    off = preferences.save_preferences(ctx, ALICE, None, None, {"enabled": False, "channels": []})
    assert (off.digest.enabled, off.digest.channels) == (False, set())  # off, no channel: fine
