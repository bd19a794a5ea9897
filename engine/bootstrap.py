"""The composition root: every event subscriber and job handler, registered by reference.

Nothing in the engine registers itself on import. This module names, once, what reacts to the
event stream (`SUBSCRIBERS`, `COMPANIONS`) and what runs jobs (`JOBS`), and `bootstrap`
hands them to `engine.events.stream` and `engine.runtime.jobs`. Whoever builds an engine
context calls it: the app factory and the CLI through `context`, tests through their
fixtures. It is idempotent and cheap (a few dict and list updates), so calling it again, for
every app a test builds, changes nothing.

Adding a subscriber or a job kind is one line here; `tests/engine/events/test_bootstrap.py` lists
what is expected.
"""

from __future__ import annotations

import logging

from engine.audit import retention
from engine.core.clock import Clock
from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.events import stream
from engine.integration import connectors, webhooks
from engine.notify import announce, bell, delivery, digest, recipients, slack_sync
from engine.runtime import jobs, signals
from engine.sla import deadlines

# Called by `stream.record` for every event, in this order, in the event's transaction.
SUBSCRIBERS: tuple[stream.Subscriber, ...] = (
    recipients.on_event,  # email and chat: one job per recipient and channel
    bell.on_event,  # the in-app bell: one row per recipient
    announce.on_event,  # a process's posts to named chat channels (pmoflow:announce)
    digest.on_event,  # the daily digest: planned again when a person saves their settings
    slack_sync.on_event,  # the Slack app's DMs about a task, updated once it no longer waits for their reader
)
# Read with the chain head when a transaction's events are written.
COMPANIONS: tuple[stream.Companion, ...] = (
    webhooks.SUBSCRIPTIONS,  # webhooks: one delivery and job per matching subscription
)
# Job kind -> handler, run by the worker.
JOBS: dict[str, jobs.JobHandler] = {
    **connectors.JOBS,  # HTTP connector calls
    **webhooks.JOBS,  # webhook deliveries
    **delivery.JOBS,  # notification emails and chat posts
    **retention.JOBS,  # the daily purge
    **deadlines.JOBS,  # SLA breach checks
    **signals.JOBS,  # signals thrown by instances, broadcast to the others
    **announce.JOBS,  # posts to named chat channels
    **digest.JOBS,  # the daily digest of each person who turned it on
    **slack_sync.JOBS,  # finding and updating the Slack DMs of tasks that closed
}


def bootstrap() -> None:
    """Register every subscriber, companion and job handler (again: nothing changes)."""
    for subscriber in SUBSCRIBERS:
        stream.subscribe(subscriber)
    for companion in COMPANIONS:
        stream.read_with_head(companion)
    for kind, handler in JOBS.items():
        jobs.register(kind, handler)


log = logging.getLogger("pmoflow")


def context(settings: Settings, clock: Clock | None = None) -> EngineContext:
    """The engine context for `settings`, with everything registered; raises ValueError for a bad limit.
    Entries of PMOFLOW_CHAT_CHANNELS it cannot use are logged (without their URLs) and left out."""
    bootstrap()
    for problem in settings.channel_problems():
        log.warning("PMOFLOW_CHAT_CHANNELS: %s; it is left out", problem)
    return EngineContext.from_settings(settings, clock=clock)
