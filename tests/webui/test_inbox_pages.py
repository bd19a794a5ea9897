"""The inbox pages (Flask client, both databases): pickers, bulk actions with per-task outcomes, done by me,
the away hints of person pickers, the decision's comment told apart from the discussion."""

from __future__ import annotations

import re
from datetime import timedelta

from engine.admin import users
from engine.tasks import claims, collaboration, completion
from tests.factories import ALICE, ERIN, actor, deploy_shipped
from tests.webui.conftest import csrf_of, intake


def test_filters_are_pickers(app, browser_of):
    page = browser_of("alice").get("/tasks?process=project-intake").get_data(as_text=True)
    assert '<select id="process" name="process">' in page
    assert re.search(r'<option value="project-intake" selected>[^<]+</option>', page)
    assert '<select id="role" name="role"><option value="">Any of my groups</option><option value="IT Manager"' in page
    assert '<option value="process" >Process</option>' in page or '<option value="process">Process</option>' in page


def test_bulk_claim_shows_each_outcome_with_its_status(app, browser_of):
    ctx = app.extensions["pmoflow"]
    users.create_user(ctx, "ivan", "demo", ["IT Manager"], ["approver"])
    first, taken = intake(app, key="PRJ-1").open_tasks[0].id, intake(app, key="PRJ-2").open_tasks[0].id
    claims.claim(ctx, actor("ivan", "IT Manager"), taken)
    alice = browser_of("alice")
    inbox = alice.get("/tasks?due=week").get_data(as_text=True)
    assert f'<input type="checkbox" name="task" value="{first}" form="bulk"' in inbox
    token = csrf_of(alice, "/tasks")
    result = alice.post(
        "/tasks/bulk",
        data={"action": "claim", "task": [first, taken], "back": "due=week&page=2", "csrf_token": token},
    )
    html = result.get_data(as_text=True)
    assert result.status_code == 200
    assert "1 of 2 done; 1 refused, see why below." in html
    assert '<span class="badge sla-on_track">Claimed</span>' in html
    assert f'<span class="badge sla-overdue">409 Conflict</span> task {taken} is assigned to ivan' in html
    assert 'href="/tasks?due=week"' in html  # back to the filter, without paging
    nothing = alice.post("/tasks/bulk", data={"action": "claim", "csrf_token": token})
    assert nothing.status_code == 422 and "Nothing was done: select at least one task" in nothing.get_data(as_text=True)
    evil = alice.post("/tasks/bulk", data={"action": "claim", "back": "https://evil.example/x", "csrf_token": token})
    assert "evil.example" not in evil.get_data(as_text=True).split("Back to the tasks")[0].split("<main>")[-1]
    assert alice.post("/tasks/bulk", data={"action": "claim", "task": first}).status_code == 400  # no CSRF token


def test_done_by_me_shows_outcomes_and_comments(app, browser_of):
    ctx = app.extensions["pmoflow"]
    task_id = intake(app).open_tasks[0].id
    completion.complete(ctx, ALICE, task_id, {"decision": "reject", "comment": "Not this year"})
    html = browser_of("alice").get("/tasks/done").get_data(as_text=True)
    assert '<span class="badge outcome-reject">Rejected</span>' in html and "Not this year" in html
    assert 'aria-current="page">Done by me</a>' in html
    assert "You have not completed a task yet" in browser_of("bob").get("/tasks/done").get_data(as_text=True)
    assert browser_of("alice").get("/tasks/done?page=abc").status_code == 422


def test_the_task_page_says_which_comment_goes_with_the_decision(app, browser_of):
    task_id = intake(app).open_tasks[0].id
    html = browser_of("alice").get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'Comment <span class="decision-note">(with your decision)</span>' in html
    assert "recorded with your decision, in the request's history" in html
    assert '<h2 id="comments-title">Discussion</h2>' in html
    assert "Posting here does not complete the task." in html
    assert '<label for="comment-body">Add to the discussion</label>' in html


def test_person_pickers_say_who_is_away(app, browser_of, clock):
    ctx = app.extensions["pmoflow"]
    deploy_shipped(ctx, separation_of_duties=False)  # delegation outside the lane: the rules would refuse it
    today = clock.now().date()
    collaboration.set_out_of_office(ctx, ERIN, "dave", today, today + timedelta(days=2))
    task_id = intake(app).open_tasks[0].id
    alice = browser_of("alice")
    page = alice.get(f"/tasks/{task_id}").get_data(as_text=True)
    until = (today + timedelta(days=2)).strftime("%d %b %Y")
    assert f'<li data-user="erin">erin is away until {until}: tasks for them go to dave.</li>' in page
    assert (
        f'<option value="erin" label="erin: delegation only, away until {(today + timedelta(days=2)).strftime("%d %b")}">'
        in page
    )
    oof = alice.get("/account/out-of-office").get_data(as_text=True)
    assert f'<li data-user="erin">erin is away until {until}: tasks for them go to dave.</li>' in oof
    token = csrf_of(alice, "/account/out-of-office")
    saved = alice.post(
        "/account/out-of-office",
        data={"substitute": "erin", "starts_on": today.isoformat(), "ends_on": today.isoformat(), "csrf_token": token},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert f"Note: erin is away too, until {until}; meanwhile your tasks go on to dave." in saved
    delegated = alice.post(
        f"/tasks/{task_id}/delegate",
        data={"to": "erin", "reason": "budget", "csrf_token": csrf_of(alice, f"/tasks/{task_id}")},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "erin is away, so their substitute has it: Delegated to dave" in delegated


def test_the_inbox_names_processes_as_people_read_them(app, browser_of):
    task_id = intake(app, key="PRJ-9").open_tasks[0].id
    alice = browser_of("alice")
    for page in (alice.get("/tasks").get_data(as_text=True), alice.get("/tasks?sort=process").get_data(as_text=True)):
        assert '<td data-label="Process">Project intake</td>' in page
        assert '<td data-label="Process">project-intake</td>' not in page
    assert "Project intake" in alice.get(f"/tasks/{task_id}").get_data(as_text=True)


def test_the_refreshed_rows_carry_the_navigations_count_from_the_server(app, browser_of):
    intake(app)
    partial = browser_of("alice").get("/tasks?partial=1&q=no-such-request").get_data(as_text=True)
    assert "Nothing waits for you" in partial  # the filter hides the task; the navigation counts the whole inbox
    expected = '<template id="inbox-count-next"><span class="nav-count" id="inbox-count">1<span class="sr-only"> open'
    assert expected in partial
