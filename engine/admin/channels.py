"""Channel switches: whether people may decide from a message, turned on and off by an admin at run time
(Administration > Channels) for every process and host that shares the database.

Each switch takes its default from the environment (`Settings.email_actions`: PMOFLOW_EMAIL_ACTIONS,
`Settings.slack_actions`: PMOFLOW_SLACK_ACTIONS). An admin's choice is a row of `app_settings` and wins over
the environment until the admin gives the switch back to it. `enabled` is the one way to read a switch: it
reads the row on every call (one primary-key lookup), so a change counts at once in every process. It is
called per message sent and per decision link or Slack click, never inside an engine step.

Every change is an audit event `channel_setting_changed` (who; which switch; from -> to; where each value came
from), written in the change's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core.config import PREFIX
from engine.core.context import EngineContext
from engine.core.errors import Conflict, InvalidInput
from engine.core.permissions import Actor, require
from engine.db.models import AppSetting
from engine.events import stream as audit

EVENT = "channel_setting_changed"
Source = Literal["admin", "environment"]


@dataclass(frozen=True)
class Switch:
    """A setting an admin may change at run time; its default is the `Settings` field of the same name."""

    key: str
    label: str
    on_means: str
    off_means: str
    needs: tuple[str, ...]  # the Settings fields the channel needs to work at all
    needs_text: str

    @property
    def environment_variable(self) -> str:
        return PREFIX + self.key.upper()


SWITCHES: dict[str, Switch] = {
    s.key: s
    for s in (
        Switch(
            "email_actions",
            "Approve and Reject in emails and Teams cards",
            "Assignment, reminder and escalation emails and Teams cards of decision tasks carry signed Approve "
            "and Reject links to a confirmation page.",
            "New messages carry only “Open the task”; links sent before are refused with a page saying that "
            "deciding from a message is turned off, and change nothing.",
            ("secret_key",),
            "a secret key (PMOFLOW_SECRET_KEY, or the one kept in var/secret_key)",
        ),
        Switch(
            "slack_actions",
            "Approve and Reject buttons in Slack",
            "Direct messages from the Slack app about decision tasks carry Approve and Reject, decided inside Slack.",
            "New direct messages carry only “Open”; a click on a button sent before is answered in Slack that "
            "deciding from Slack is turned off, and changes nothing.",
            ("slack_bot_token", "slack_signing_secret"),
            "a Slack app (PMOFLOW_SLACK_BOT_TOKEN and PMOFLOW_SLACK_SIGNING_SECRET)",
        ),
    )
}


@dataclass(frozen=True)
class SwitchView:
    """A switch as the admin page shows it: its effective value and where that value comes from."""

    key: str
    label: str
    on_means: str
    off_means: str
    on: bool
    source: Source  # "admin": set on the Channels page; "environment": the server's setting (or its default)
    environment_variable: str
    environment_value: bool
    changed_by: str | None
    changed_at: datetime | None
    configured: bool  # what the channel needs is set up; without it the switch changes nothing yet
    needs: str


def _switch(key: str) -> Switch:
    switch = SWITCHES.get(key)
    if switch is None:
        raise InvalidInput(f"no channel setting {key[:64]!r}", {"fields": {"setting": "Unknown setting."}})
    return switch


def _stored(row: AppSetting | None) -> bool | None:
    return row.value if row is not None and isinstance(row.value, bool) else None


def enabled(ctx: EngineContext, key: str, session: Session | None = None) -> bool:
    """Whether the switch is on now: the admin's stored choice, else the environment's value. Reads the
    database each call (in `session` when given); raises InvalidInput for an unknown switch."""
    _switch(key)
    if session is not None:
        stored = _stored(session.get(AppSetting, key))
    else:
        with ctx.uow(write=False) as uow:
            stored = _stored(uow.session.get(AppSetting, key))
    return bool(getattr(ctx.settings, key)) if stored is None else stored


def _view(ctx: EngineContext, switch: Switch, row: AppSetting | None) -> SwitchView:
    environment = bool(getattr(ctx.settings, switch.key))
    stored = _stored(row)
    return SwitchView(
        key=switch.key,
        label=switch.label,
        on_means=switch.on_means,
        off_means=switch.off_means,
        on=environment if stored is None else stored,
        source="environment" if stored is None else "admin",
        environment_variable=switch.environment_variable,
        environment_value=environment,
        changed_by=row.updated_by if stored is not None and row is not None else None,
        changed_at=row.updated_at if stored is not None and row is not None else None,
        configured=all(getattr(ctx.settings, name) for name in switch.needs),
        needs=switch.needs_text,
    )


def list_switches(ctx: EngineContext, actor: Actor) -> list[SwitchView]:
    """Every switch with its effective value and source; raises Forbidden for anyone but an admin."""
    require(actor, "channel.manage")
    with ctx.uow(write=False) as uow:
        rows = {r.key: r for r in uow.session.scalars(select(AppSetting).where(AppSetting.key.in_(SWITCHES)))}
        return [_view(ctx, switch, rows.get(key)) for key, switch in SWITCHES.items()]


def set_switch(ctx: EngineContext, actor: Actor, key: str, on: bool | None) -> SwitchView:
    """Turn a switch on or off for every process (`on` None: back to the environment's value), audited when
    the stored choice changes; raises Forbidden, InvalidInput (unknown switch), Conflict (a simultaneous change)."""
    require(actor, "channel.manage")
    switch = _switch(key)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        session = uow.session
        row = session.scalars(select(AppSetting).where(AppSetting.key == key).with_for_update()).first()
        before = _view(ctx, switch, row)
        if _stored(row) == on and (row is not None or on is None):
            return before  # nothing changes: no event
        if on is None:
            if row is not None:
                session.delete(row)
            row = None
        elif row is None:
            row = AppSetting(key=key, value=on, updated_by=actor.username, updated_at=now)
            session.add(row)
        else:
            row.value, row.updated_by, row.updated_at = on, actor.username, now
        after = _view(ctx, switch, row)
        audit.record(
            session,
            EVENT,
            now,
            actor=actor.username,
            data={
                "setting": key,
                "label": switch.label,
                "from": before.on,
                "to": after.on,
                "from_source": before.source,
                "to_source": after.source,
            },
        )
        try:
            uow.commit()
        except IntegrityError as err:
            raise Conflict(f"{switch.label} was changed by someone else at the same time: look again") from err
        return after
