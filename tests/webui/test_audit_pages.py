"""The auditor's pages and API: search, timeline, exports, the chain check, token attribution."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select, text

from engine.admin import tokens
from engine.db.models import Event
from engine.tasks import completion
from tests.factories import ALICE
from tests.webui.conftest import intake

APPROVE = {"decision": "approve", "comment": "within budget"}


@pytest.fixture
def trail(app):
    first = intake(app, key="PRJ-1")
    completion.complete(app.extensions["pmoflow"], ALICE, first.open_tasks[0].id, APPROVE)
    second = intake(app, key="PRJ-2", budget=5_000)
    return first.id, second.id


def events(app, **where) -> list[Event]:
    ctx = app.extensions["pmoflow"]
    with ctx.uow(write=False) as uow:
        query = select(Event).order_by(Event.seq)
        for name, value in where.items():
            query = query.where(getattr(Event, name) == value)
        found = list(uow.session.scalars(query))
        uow.session.expunge_all()
        return found


def test_an_auditor_searches_by_business_key(app, trail, browser_of):
    page = browser_of("audrey").get("/audit?business_key=PRJ-2")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for event in events(app, business_key="PRJ-2"):
        assert event.uuid in html
    assert not any(e.uuid in html for e in events(app, business_key="PRJ-1"))


@pytest.mark.parametrize(
    ("query", "field", "value"),
    [
        ("actor=alice", "actor", "alice"),
        ("action=decision_evaluated", "type", "decision_evaluated"),
        ("process=project-intake", "definition_key", "project-intake"),
    ],
)
def test_search_filters(app, trail, browser_of, query, field, value):
    html = browser_of("audrey").get(f"/audit?{query}").get_data(as_text=True)
    matching = events(app, **{field: value})
    assert matching and all(e.uuid in html for e in matching)
    others = [e for e in events(app) if getattr(e, field) != value]
    assert not any(e.uuid in html for e in others)


def test_text_and_date_search(app, trail, browser_of, clock):
    client = browser_of("audrey")
    html = client.get("/audit?text=within budget").get_data(as_text=True)
    [completed] = [e for e in events(app, type="task_completed")]
    assert completed.uuid in html and html.count('data-event="') == 1
    day = clock.now().date().isoformat()
    assert client.get(f"/audit?since={day}&until={day}&preset=all").get_data(as_text=True).count('data-event="') == min(
        50, len(events(app))
    )
    assert 'data-event="' not in client.get("/audit?until=2000-01-01").get_data(as_text=True)
    bad = client.get("/audit?since=yesterday")
    assert bad.status_code == 422 and "since: must be a date" in bad.get_data(as_text=True)


def test_pages_of_fifty_newest_first(app, trail, browser_of):
    client = browser_of("audrey")
    all_events = events(app)
    html = client.get("/audit?preset=all").get_data(as_text=True)
    assert html.count('data-event="') == min(50, len(all_events))
    newest = all_events[-1]
    assert html.index(newest.uuid) < html.index(all_events[-2].uuid)


def test_the_timeline_reads_like_a_decision_trail(app, trail, browser_of):
    first, _ = trail
    html = browser_of("audrey").get(f"/audit/instances/{first}").get_data(as_text=True)
    assert "IT Manager / alice approved on" in html and "within budget" in html
    assert "rule 2 of approval_tier matched" in html and "budget 120,000" in html
    assert "project-intake" in html and "version 1" in html
    data = json.loads(html.split('id="diagram-data">', 1)[1].split("</script>", 1)[0])
    assert data["xml"].startswith("<?xml") and "it_manager_approval" in data["path"]
    assert data["open"] == ["finance_approval"]


def test_exports_match_the_events(app, trail, browser_of):
    first, _ = trail
    client = browser_of("audrey")
    response = client.get("/audit/export.csv?business_key=PRJ-1")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    expected = events(app, business_key="PRJ-1")
    assert [(r["seq"], r["id"], r["type"], r["actor"]) for r in rows] == [
        (str(e.seq), e.uuid, e.type, e.actor or "") for e in expected
    ]
    assert all(r["hash"] == e.hash for r, e in zip(rows, expected, strict=True))
    lines = client.get(f"/audit/instances/{first}/export.jsonl").get_data(as_text=True).splitlines()
    assert [json.loads(line)["id"] for line in lines] == [e.uuid for e in expected]
    assert json.loads(lines[0])["data"] == expected[0].data


def test_the_printable_report(app, trail, browser_of):
    first, _ = trail
    client = browser_of("audrey")
    html = client.get(f"/audit/instances/{first}/report").get_data(as_text=True)
    assert "Audit report: PRJ-1" in html and "alice approved" in html
    assert 'href="/static/audit-report.css"' in html  # its print styles: a stylesheet, as the CSP wants
    with client.get("/static/audit-report.css") as css:
        assert "@media print" in css.get_data(as_text=True)


def test_the_chain_check_page_names_the_broken_link(app, trail, browser_of):
    client = browser_of("pmo")
    assert 'data-ok="true"' in client.get("/audit/verify").get_data(as_text=True)
    ctx = app.extensions["pmoflow"]
    with ctx.db.connect() as conn, conn.begin():
        if ctx.db.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(text("UPDATE events SET actor = 'mallory' WHERE seq = 7"))
    html = client.get("/audit/verify").get_data(as_text=True)
    assert 'data-ok="false"' in html and "seq 7" in html and events(app)[6].uuid in html and "changed" in html


def test_unknown_instance_is_404(app, trail, browser_of):
    client = browser_of("audrey")
    assert client.get("/audit/instances/nope").status_code == 404
    assert client.get("/audit/instances/nope/export.csv").status_code == 404
    assert client.get("/audit/export.xml").status_code == 404


# ---------------------------------------------------------------- API


def test_api_search_and_token_attribution(app, trail):
    ctx = app.extensions["pmoflow"]
    bot_token = tokens.create_token(ctx, "intake-bot", "erp")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {bot_token}"}
    started = client.post(
        "/api/v1/process-instances",
        headers=auth,
        json={
            "process": "project-intake",
            "business_key": "PRJ-API",
            "variables": {"title": "t", "budget": 1, "department": "d"},
        },
    )
    assert started.status_code == 201
    page = client.get("/api/v1/audit/events?business_key=PRJ-API&action=instance_started", headers=auth).json
    [event] = page["items"]
    with ctx.uow(write=False) as uow:
        token_id = uow.session.scalar(text("SELECT id FROM api_tokens WHERE name = 'erp'"))
    assert (event["actor"], event["actor_kind"], event["token_id"]) == ("intake-bot", "token", token_id)
    assert page["next_before"] is None
    # a browser write by the same user right after is not attributed to the token
    assert {e.actor_kind for e in events(app, business_key="PRJ-1")} <= {"user", "system"}
    older = client.get("/api/v1/audit/events?per_page=2", headers=auth).json
    assert len(older["items"]) == 2 and older["next_before"] == older["items"][-1]["seq"]
    rest = client.get(f"/api/v1/audit/events?per_page=2&before={older['next_before']}", headers=auth).json
    assert rest["items"][0]["seq"] == older["next_before"] - 1
    assert client.get("/api/v1/audit/events?since=2026-01-01T00:00", headers=auth).status_code == 422
    assert client.get("/api/v1/audit/verify", headers=auth).json["ok"] is True


def test_auditors_are_refused_every_write_in_the_matrix():
    """Every write route in the permission matrix refuses an auditor, but for their own account, session and
    subscriptions (watching a request they may see, their notification settings, linking their Slack account),
    and the provider's back-channel logout, which no signed-in person calls."""
    from tests.webui.test_permission_matrix import API, CALLERS, PAGES

    own = {
        "/login",
        "/logout",
        "/account/password",
        "/account/notifications",
        "/account/sessions",
        "/notifications/read-all",
        "/notifications/<notification_id>/read",
        "/views",  # their own saved views (of the audit search, say)
        "/views/<view_id>/rename",
        "/views/<view_id>/delete",
        "/requests/<instance_id>/watch",
        "/requests/<instance_id>/unwatch",
        "/api/v1/process-instances/<instance_id>/watch",
        "/api/v1/me/notification-settings",
        "/slack/link/<token>",
        "/logout/backchannel",
    }
    auditor = CALLERS.index("auditor")
    writes = {(m, r): s for (m, r), s in {**PAGES, **API}.items() if m != "GET" and r not in own}
    assert len(writes) > 20
    allowed = {route: statuses[auditor] for route, statuses in writes.items() if statuses[auditor] not in (403, 404)}
    assert allowed == {}, allowed


def test_the_search_opens_without_sign_ins_and_presets_choose_the_kind_of_event(app, trail, browser_of):
    client = browser_of("audrey")
    sign_ins = [e for e in events(app) if e.type in ("login", "logout", "login_failed")]
    assert sign_ins  # audrey's own sign-in at least
    html = client.get("/audit").get_data(as_text=True)
    assert not any(e.uuid in html for e in sign_ins) and "Sign-ins are hidden" in html
    assert 'aria-current="page">All but sign-ins</a>' in html
    security = client.get("/audit?preset=security").get_data(as_text=True)
    assert all(e.uuid in security for e in sign_ins) and security.count('data-event="') == len(sign_ins)
    decisions = client.get("/audit?preset=decisions").get_data(as_text=True)
    wanted = [e for e in events(app) if e.type in ("task_completed", "decision_evaluated")]
    assert decisions.count('data-event="') == len(wanted) and all(e.uuid in decisions for e in wanted)
    # a chosen action wins over the preset; the export carries the preset shown
    login = client.get("/audit?preset=decisions&action=login").get_data(as_text=True)
    assert login.count('data-event="') == len([e for e in sign_ins if e.type == "login"])
    assert "/audit/export.csv?preset=activity" in html
    bad = client.get("/audit?preset=nonsense")
    assert bad.status_code == 422 and "preset" in bad.get_data(as_text=True)


def test_results_link_each_task_person_decision_and_instance_to_its_page(app, trail, browser_of):
    first, _ = trail
    html = browser_of("audrey").get("/audit?preset=decisions").get_data(as_text=True)
    [completed] = events(app, type="task_completed")
    [evaluated, *_] = events(app, type="decision_evaluated")
    assert f'href="/tasks/{completed.task_uuid}"' in html  # auditors may read every task
    assert 'class="person" href="/audit?actor=alice&amp;preset=all"' in html  # auditors: what the person did
    assert f'href="/audit/instances/{evaluated.instance_uuid}#ev-{evaluated.uuid}"' in html
    assert f'href="/audit/instances/{first}"' in html and f'href="/monitor/instances/{first}"' in html
    timeline = browser_of("audrey").get(f"/audit/instances/{first}").get_data(as_text=True)
    assert f'id="ev-{evaluated.uuid}"' in timeline  # the decision's own place on the trail
    admin = browser_of("pmo").get("/audit?preset=decisions").get_data(as_text=True)
    assert 'class="person" href="/admin/users/alice"' in admin  # administrators: the person's page
