"""Drafts: create, save with optimistic locking (409 naming who saved), publish as the next version, export."""

from __future__ import annotations

import io
import threading
import zipfile

import pytest
from sqlalchemy import select

from designer import drafts
from engine.admin import users
from engine.core.errors import Conflict, DeploymentInvalid, Forbidden, InvalidInput, NotFound
from engine.core.permissions import Actor
from engine.db.models import Deployment, Draft, Event, ProcessDefinition
from engine.designer import store
from engine.runtime import instances
from engine.spiff.model.parsing import SourceFile
from tests.bpmn_samples import linear, one_approval, script_task
from tests.factories import ADMIN, BOT, deploy_shipped

DANA = Actor("dana", roles=frozenset({"designer"}))
ALICE = Actor("alice", roles=frozenset({"approver"}))
AUDREY = Actor("audrey", roles=frozenset({"auditor"}))


@pytest.fixture
def shipped(ctx):
    deploy_shipped(ctx)
    users.ensure_demo_users(ctx)
    return ctx


def test_only_designers_and_admins_design(ctx):
    for who in (ALICE, AUDREY, BOT):
        with pytest.raises(Forbidden):
            drafts.create_draft(ctx, who, "x")


def test_a_blank_draft_is_a_valid_bpmn_diagram_with_one_start_event(ctx):
    draft = drafts.create_draft(ctx, DANA, "blank-one", "Blank one")
    assert draft.revision == 1 and draft.name == "Blank one" and draft.files == {}
    assert 'id="blank-one"' in draft.bpmn and "bpmndi:BPMNShape" in draft.bpmn
    assert {p["code"] for p in draft.problems} == {"start_without_outgoing"}  # the lone start event goes nowhere yet


def test_a_key_is_checked_and_one_draft_per_key(ctx):
    with pytest.raises(InvalidInput) as bad:
        drafts.create_draft(ctx, DANA, "1 bad key")
    assert bad.value.details["fields"]["key"]
    drafts.create_draft(ctx, DANA, "once")
    with pytest.raises(Conflict, match="already has a draft"):
        drafts.create_draft(ctx, ADMIN, "once")


def test_from_a_template_copies_the_diagram_and_its_forms_renamed_to_the_key(shipped):
    draft = drafts.create_draft(
        shipped, DANA, "vendor-onboarding", "Vendor onboarding", template="cross-functional-handoff"
    )
    assert 'id="vendor-onboarding"' in draft.bpmn and 'processRef="vendor-onboarding"' in draft.bpmn
    assert "handoff-finance.form" in draft.files and "cross-functional-handoff-start.form" in draft.files
    assert draft.problems == []
    from_dmn = drafts.create_draft(shipped, DANA, "intake-2", template="project-intake")
    assert "approval-tier.dmn" in from_dmn.files and from_dmn.problems == []
    with pytest.raises(NotFound):
        drafts.create_draft(shipped, DANA, "nope", template="no-such-template")


def test_save_validates_and_bumps_the_revision(shipped):
    draft = drafts.create_draft(shipped, DANA, "p1")
    saved = drafts.save_draft(shipped, DANA, "p1", draft.revision, one_approval(lane_name="Ghosts"))
    assert saved.revision == draft.revision + 1
    assert [(p["element_id"], p["code"]) for p in saved.problems] == [("approve", "unknown_group")]
    again = drafts.save_draft(shipped, ADMIN, "p1", saved.revision, one_approval())
    assert again.problems == [] and again.updated_by == "pmo" and again.revision == saved.revision + 1


def test_a_stale_save_is_refused_naming_who_saved_and_nothing_is_lost(ctx, clock):
    draft = drafts.create_draft(ctx, DANA, "p1")
    drafts.save_draft(ctx, ADMIN, "p1", draft.revision, one_approval(lane_name="First"))
    with pytest.raises(Conflict) as lost:
        drafts.save_draft(ctx, DANA, "p1", draft.revision, one_approval(lane_name="Second"))
    assert "pmo saved this draft" in lost.value.message
    assert lost.value.details["updated_by"] == "pmo"
    kept = drafts.get_draft(ctx, DANA, "p1")
    assert 'name="First"' in kept.bpmn and kept.revision == draft.revision + 1


def test_two_saves_racing_on_one_revision_let_exactly_one_win(ctx, monkeypatch):
    draft = drafts.create_draft(ctx, DANA, "p1")
    barrier = threading.Barrier(2)
    real = store.check_revision
    calls = threading.local()

    def waiting_check(row, revision):  # both pass the read-time check, then race to write
        real(row, revision)
        calls.n = getattr(calls, "n", 0) + 1
        if calls.n == 1:
            barrier.wait(timeout=10)

    monkeypatch.setattr(store, "check_revision", waiting_check)
    outcomes: dict[str, object] = {}

    def save(who: Actor, lane_name: str) -> None:
        try:
            outcomes[who.username] = drafts.save_draft(ctx, who, "p1", draft.revision, one_approval(lane_name))
        except Exception as err:  # noqa: BLE001 - the test asserts which kind
            outcomes[who.username] = err

    threads = [threading.Thread(target=save, args=(a, n)) for a, n in ((DANA, "Dana"), (ADMIN, "Admin"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    conflicts = [o for o in outcomes.values() if isinstance(o, Conflict)]
    assert len(outcomes) == 2 and len(conflicts) == 1
    winner = next(o for o in outcomes.values() if not isinstance(o, Conflict))
    assert drafts.get_draft(ctx, DANA, "p1").bpmn == winner.bpmn
    assert drafts.get_draft(ctx, DANA, "p1").revision == draft.revision + 1


def test_malformed_input_saves_nothing(ctx):
    draft = drafts.create_draft(ctx, DANA, "p1")
    with pytest.raises(InvalidInput):
        drafts.save_draft(ctx, DANA, "p1", draft.revision, "")
    with pytest.raises(InvalidInput):
        drafts.save_draft(ctx, DANA, "p1", draft.revision, one_approval(), files={"../evil.py": "x"})
    assert drafts.get_draft(ctx, DANA, "p1").revision == draft.revision
    with pytest.raises(NotFound):
        drafts.save_draft(ctx, DANA, "other", 1, one_approval())


def test_malformed_xml_is_saved_as_a_draft_with_its_problem(ctx):
    draft = drafts.create_draft(ctx, DANA, "p1")
    saved = drafts.save_draft(ctx, DANA, "p1", draft.revision, "<bpmn:definitions")
    assert [p["code"] for p in saved.problems] == ["malformed_xml"]


def test_publish_makes_the_next_version_with_the_note_and_drops_the_draft(shipped):
    draft = drafts.create_draft(shipped, DANA, "vendor-onboarding", template="cross-functional-handoff")
    first = drafts.publish_draft(shipped, DANA, "vendor-onboarding", draft.revision, "first cut")
    assert first.version == 1
    with pytest.raises(NotFound):
        drafts.get_draft(shipped, DANA, "vendor-onboarding")
    running = instances.start(shipped, BOT, "vendor-onboarding", variables={"title": "t", "go_live_date": "2026-12-01"})
    second = drafts.edit_version(shipped, DANA, "vendor-onboarding")
    assert second.base_version == 1 and "handoff-finance.form" in second.files
    changed = second.bpmn.replace('name="Prepare handoff"', 'name="Prepare the handoff"')
    assert changed != second.bpmn
    saved = drafts.save_draft(shipped, DANA, "vendor-onboarding", second.revision, changed)
    published = drafts.publish_draft(shipped, ADMIN, "vendor-onboarding", saved.revision, "clearer task name")
    assert published.version == 2
    with shipped.uow(write=False) as uow:
        rows = {
            r.version: r
            for r in uow.session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == "vendor-onboarding"))
        }
        notes = {v: uow.session.get(Deployment, r.deployment_id).note for v, r in rows.items()}
        events = [e.data for e in uow.session.scalars(select(Event).where(Event.type == "draft_published"))]
    assert notes == {1: "first cut", 2: "clearer task name"}
    assert [e["version"] for e in events] == [1, 2]
    assert instances.get(shipped, ADMIN, running.id).version == 1  # running instances stay on theirs
    assert (
        instances.start(
            shipped, BOT, "vendor-onboarding", variables={"title": "t", "go_live_date": "2026-12-01"}
        ).version
        == 2
    )


def test_publishing_needs_a_note_a_current_revision_a_clean_draft_and_the_role(shipped):
    draft = drafts.create_draft(shipped, DANA, "p1")
    broken = linear((script_task("calc", "total = ("), "calc"), pid="p1")
    saved = drafts.save_draft(shipped, DANA, "p1", draft.revision, broken)
    with pytest.raises(InvalidInput, match="change note"):
        drafts.publish_draft(shipped, DANA, "p1", saved.revision, "  ")
    with pytest.raises(Conflict):
        drafts.publish_draft(shipped, DANA, "p1", draft.revision, "stale")
    with pytest.raises(DeploymentInvalid) as invalid:
        drafts.publish_draft(shipped, DANA, "p1", saved.revision, "has a problem")
    assert [(p.element_id, p.code) for p in invalid.value.problems] == [("calc", "bad_expression")]
    with pytest.raises(Forbidden):
        drafts.publish_draft(shipped, ALICE, "p1", saved.revision, "not mine")
    with shipped.uow(write=False) as uow:
        assert uow.session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == "p1")).first() is None
        assert uow.session.scalars(select(Draft).where(Draft.key == "p1")).one().revision == saved.revision


def test_import_and_export_round_trip_the_files(shipped):
    form = b'{"id": "approve-form", "type": "default", "components": []}'
    bpmn = one_approval(form="approve-form").encode()
    draft = drafts.import_files(shipped, DANA, [SourceFile("mine.bpmn", bpmn), SourceFile("a.form", form)])
    assert draft.key == "p1" and draft.problems == [] and draft.files == {"a.form": form.decode()}
    name, body = drafts.export_draft(shipped, DANA, "p1")
    assert name == "p1.zip"
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.read("p1.bpmn") == bpmn and archive.read("a.form") == form
    assert drafts.export_draft(shipped, DANA, "p1", "a.form") == ("a.form", form)
    with pytest.raises(InvalidInput, match="exactly one .bpmn"):
        drafts.import_files(shipped, DANA, [SourceFile("a.form", form)])
    with pytest.raises(InvalidInput):
        drafts.import_files(shipped, DANA, [SourceFile("x.bpmn", b"<!DOCTYPE x><x/>")], key="x")


def test_a_version_exports_only_the_files_its_process_uses(shipped):
    name, body = drafts.export_version(shipped, DANA, "project-intake", 1)
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        names = set(archive.namelist())
    assert name == "project-intake-v1.zip"
    assert {"project-intake.bpmn", "approval-tier.dmn", "project-intake-start.form", "approval-decision.form"} == names
    with pytest.raises(NotFound):
        drafts.export_version(shipped, DANA, "project-intake", 9)


def test_discard(ctx):
    drafts.create_draft(ctx, DANA, "p1")
    drafts.discard_draft(ctx, DANA, "p1")
    with pytest.raises(NotFound):
        drafts.get_draft(ctx, DANA, "p1")


def test_a_draft_whose_process_lost_its_key_says_so(ctx):
    draft = drafts.create_draft(ctx, DANA, "p1")
    saved = drafts.save_draft(ctx, DANA, "p1", draft.revision, one_approval(pid="renamed"))
    assert [p["code"] for p in saved.problems if p["code"] != "unknown_group"] == ["key_missing"]


def test_an_unchanged_draft_publishes_nothing_and_stays(shipped):
    draft = drafts.edit_version(shipped, DANA, "project-intake")
    with pytest.raises(InvalidInput, match="same as version 1"):
        drafts.publish_draft(shipped, DANA, "project-intake", draft.revision, "no change")
    assert drafts.get_draft(shipped, DANA, "project-intake").revision == draft.revision


def test_advice_is_shown_but_does_not_stop_publishing(shipped):
    """The designer refuses what a deployment refuses, no more: a lane naming no group is a warning."""
    draft = drafts.create_draft(shipped, DANA, "p1")
    saved = drafts.save_draft(shipped, DANA, "p1", draft.revision, one_approval(lane_name="Ghosts"))
    assert [p["code"] for p in saved.problems] == ["unknown_group"]
    assert drafts.publish_draft(shipped, DANA, "p1", saved.revision, "ghosts may come later").version == 1


def test_save_names_a_chat_channel_the_server_does_not_know_as_publishing_would(settings, clock):
    """The draft's problems are the deploy's: pmoflow:announce naming no channel of PMOFLOW_CHAT_CHANNELS is one
    before publishing refuses it, not only at publishing."""
    from dataclasses import replace

    from engine import bootstrap

    named = replace(settings, chat_channels="pmo-decisions=slack:https://hooks.slack.com/services/T0/B0/X")
    ctx = bootstrap.context(named, clock=clock)
    try:
        draft = drafts.create_draft(ctx, DANA, "p1")
        announcing = linear().replace(
            'isExecutable="true">',
            'isExecutable="true"><bpmn:extensionElements><pmoflow:announce channel="{}" on="decided"/>'
            "</bpmn:extensionElements>",
            1,
        )
        unknown = drafts.save_draft(ctx, DANA, "p1", draft.revision, announcing.format("nowhere"))
        assert [(p["element_id"], p["code"]) for p in unknown.problems] == [("p1", "unknown_channel")]
        assert "chat channel 'nowhere' does not exist (channels: pmo-decisions)" in unknown.problems[0]["message"]
        known = drafts.save_draft(ctx, DANA, "p1", unknown.revision, announcing.format("pmo-decisions"))
        assert known.problems == []
    finally:
        ctx.db.dispose()
