"""The email and chat notification settings page (/account/notifications)."""

from __future__ import annotations

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
    assert page.count(" checked>") == len(preferences.KINDS) * len(preferences.CHANNELS)  # all on by default
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
