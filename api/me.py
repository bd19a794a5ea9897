"""/api/v1/me: the token user's own settings. `notification-settings`: which notifications go to which
channel (email, Slack, Teams, the bell where a kind offers it), the chat webhooks and the daily digest."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.core.errors import InvalidInput
from engine.notify import preferences
from engine.notify.preferences import NotificationPreferences

from . import schemas
from .auth import current_actor
from .context import engine_ctx

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The token user's own settings.")

CHANNEL = fields.String(validate=validate.OneOf(preferences.ALL_CHANNELS))
DIGEST_CHANNEL = fields.String(validate=validate.OneOf(preferences.CHANNELS))


class KindSetting(Schema):
    kind = fields.String(metadata={"description": "the kind of notification, e.g. task_assigned"})
    label = fields.String()
    channels = fields.List(fields.String(), metadata={"description": "the channels chosen for it"})
    offered = fields.List(fields.String(), metadata={"description": "the channels it can go to"})


class Digest(Schema):
    enabled = fields.Boolean(metadata={"description": "a daily digest is sent (none on a day with nothing)"})
    time = fields.String(metadata={"description": "the local time of day it is sent, HH:MM"})
    zone = fields.String(allow_none=True, metadata={"description": "IANA time zone; null: the server's default"})
    channels = fields.List(fields.String(), metadata={"description": "email, slack and/or teams"})


class NotificationSettings(Schema):
    kinds = fields.List(fields.Nested(KindSetting))
    email = fields.String(allow_none=True, metadata={"description": "where email goes (set by an administrator)"})
    email_enabled = fields.Boolean(metadata={"description": "the server sends email (SMTP is set up)"})
    slack_webhook = fields.String(allow_none=True, metadata={"description": "the Slack webhook, masked"})
    teams_webhook = fields.String(allow_none=True, metadata={"description": "the Teams webhook, masked"})
    digest = fields.Nested(Digest)
    default_zone = fields.String(metadata={"description": "the time zone of a digest without one"})


class DigestChange(schemas.Strict):
    enabled = fields.Boolean()
    time = fields.String(validate=validate.Regexp(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", error="must be HH:MM"))
    zone = fields.String(
        allow_none=True,
        validate=validate.Length(max=preferences.ZONE_LIMIT),
        metadata={"description": 'IANA time zone such as "Europe/Berlin"; null or "": the server\'s default'},
    )
    channels = fields.List(DIGEST_CHANNEL, validate=validate.Length(max=len(preferences.CHANNELS)))


class NotificationSettingsChange(schemas.Strict):
    kinds = fields.Dict(
        keys=fields.String(validate=validate.OneOf(list(preferences.KINDS))),
        values=fields.List(CHANNEL, validate=validate.Length(max=len(preferences.ALL_CHANNELS))),
        metadata={"description": "kind -> the channels wanted; kinds left out keep their choice"},
    )
    slack_webhook = fields.String(
        allow_none=True,
        validate=validate.Length(max=preferences.URL_LIMIT),
        metadata={"description": 'a new Slack incoming-webhook URL; "" removes it; null or absent keeps it'},
    )
    teams_webhook = fields.String(
        allow_none=True,
        validate=validate.Length(max=preferences.URL_LIMIT),
        metadata={"description": 'a new Teams incoming-webhook URL; "" removes it; null or absent keeps it'},
    )
    digest = fields.Nested(DigestChange, metadata={"description": "the digest's fields to change"})


def _dump(prefs: NotificationPreferences) -> dict[str, Any]:
    offered = {k.name: k.offered for k in preferences.KINDS.values()}
    return {
        "kinds": [
            {
                "kind": k.name,
                "label": k.label,
                "channels": [c for c in offered[k.name] if c in k.channels],
                "offered": list(offered[k.name]),
            }
            for k in prefs.kinds
        ],
        "email": prefs.email,
        "email_enabled": prefs.email_enabled,
        "slack_webhook": prefs.slack_webhook,
        "teams_webhook": prefs.teams_webhook,
        "digest": {
            "enabled": prefs.digest.enabled,
            "time": prefs.digest.time,
            "zone": prefs.digest.zone,
            "channels": [c for c in preferences.CHANNELS if c in prefs.digest.channels],
        },
        "default_zone": prefs.default_zone,
    }


@blp.route("/notification-settings")
class MyNotificationSettings(MethodView):
    @blp.response(200, NotificationSettings)
    def get(self) -> dict[str, Any]:
        """My notification settings (scope `notifications`); webhook URLs come back masked."""
        return _dump(preferences.preferences(engine_ctx(), current_actor()))

    @blp.arguments(NotificationSettingsChange())
    @blp.response(200, NotificationSettings)
    @blp.alt_response(409, schema=schemas.Error, description="saved elsewhere at the same moment; try again")
    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Change my notification settings (scope `notifications`): what the body names changes, the rest is
        kept. 422 names each bad field (an unknown kind or channel, a webhook URL that is not allowed, a time
        that is not HH:MM, an unknown time zone)."""
        ctx, actor = engine_ctx(), current_actor()
        kinds = body.get("kinds")
        choices = None
        if kinds is not None:
            current = preferences.preferences(ctx, actor)
            choices = {k.name: sorted(k.channels) for k in current.kinds} | kinds
        webhooks = {ch: body[f"{ch}_webhook"] for ch in ("slack", "teams") if body.get(f"{ch}_webhook") is not None}
        try:
            return _dump(preferences.save_preferences(ctx, actor, choices, webhooks, body.get("digest")))
        except InvalidInput as err:
            raise InvalidInput(err.message, {"fields": _body_paths(err.details)}) from err


def _body_paths(details: Any) -> dict[str, Any]:
    """The settings' problems named by their place in the request body, as the schema's own errors are
    (`digest.zone`, `kinds.task_assigned`), not by the settings page's form fields (`digest_zone`)."""
    fields_ = details.get("fields", {}) if isinstance(details, dict) else {}
    named = {}
    for name, problem in fields_.items():
        if name in preferences.KINDS:
            name = f"kinds.{name}"
        elif name.startswith("digest_"):
            name = "digest." + name.removeprefix("digest_")
        named[name] = problem
    return named
