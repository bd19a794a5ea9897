"""The composition root: what it registers, that it is idempotent, and that nothing registers itself."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from engine import bootstrap
from engine.audit import retention
from engine.events import stream
from engine.integration import connectors, webhooks
from engine.notify import announce, bell, delivery, digest, recipients, slack_sync
from engine.runtime import jobs, signals
from engine.sla import deadlines
from tests.conftest import ROOT


def test_every_subscriber_companion_and_job_handler_is_registered_by_reference():
    bootstrap.bootstrap()
    assert stream.subscribers() == (
        recipients.on_event,
        bell.on_event,
        announce.on_event,
        digest.on_event,
        slack_sync.on_event,
    )
    assert webhooks.SUBSCRIPTIONS in stream.companions()
    expected = {
        **connectors.JOBS,
        **webhooks.JOBS,
        **delivery.JOBS,
        **retention.JOBS,
        **deadlines.JOBS,
        **signals.JOBS,
        **announce.JOBS,
        **digest.JOBS,
        **slack_sync.JOBS,
    }
    assert sorted(expected) == [
        "connector",
        "notify.channel",
        "notify.digest",
        "notify.email",
        "notify.slack",
        "notify.slack_sync",
        "notify.slack_update",
        "notify.teams",
        "retention_purge",
        "signal.broadcast",
        "sla_check",
        "webhook.deliver",
    ]
    assert {kind: jobs.HANDLERS[kind] for kind in expected} == expected


def test_bootstrapping_again_changes_nothing():
    bootstrap.bootstrap()
    before = (stream.subscribers(), stream.companions(), dict(jobs.HANDLERS))
    bootstrap.bootstrap()
    bootstrap.bootstrap()
    assert (stream.subscribers(), stream.companions(), dict(jobs.HANDLERS)) == before


def test_no_module_registers_itself_on_import():
    """Importing every engine module but the composition root registers nothing: no wiring by import."""
    script = textwrap.dedent("""
        import importlib, pathlib
        for path in sorted(pathlib.Path("engine").rglob("*.py")):
            if "migrations" in path.parts or path.name == "bootstrap.py":
                continue
            importlib.import_module(".".join(path.with_suffix("").parts).removesuffix(".__init__"))
        from engine.events import stream
        from engine.runtime import jobs
        print(len(stream.subscribers()), len(stream.companions()), len(jobs.HANDLERS))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0", "0", "0"]


def test_recording_an_event_before_the_bootstrap_is_refused(ctx, monkeypatch):
    monkeypatch.setattr(stream, "_subscribers", [])
    with ctx.uow() as uow, pytest.raises(RuntimeError, match="bootstrap"):
        stream.record(
            uow.session,
            "out_of_office_set",
            ctx.clock.now(),
            actor="erin",
            data={"substitute": "dave", "starts_on": "2026-01-05", "ends_on": "2026-01-06"},
        )
