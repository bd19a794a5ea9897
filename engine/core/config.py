"""Settings, read from the environment in one place and passed in everywhere else."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

PREFIX = "PMOFLOW_"


def default_database_url() -> str:
    """An SQLite file under ./var/ (created on first use)."""
    return f"sqlite:///{Path('var').absolute() / 'pmoflow.sqlite3'}"


def with_kept_secret_key(settings: Settings) -> Settings:
    """`settings` with a secret key: PMOFLOW_SECRET_KEY, else the one kept in var/secret_key (made on first use),
    so that sessions, decision links and webhook secrets of the web server and every worker sign and verify
    with the same key without configuration (README, Configuration)."""
    if settings.secret_key:
        return settings
    import secrets

    path = Path("var") / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return replace(settings, secret_key=path.read_text().strip())


CHANNEL_NAME = re.compile(r"^#?[a-z0-9][a-z0-9._-]{0,79}$")


def _channel_entries(raw: str) -> list[tuple[str, str, str, str | None]]:
    """(name, kind, url, problem or None) for each comma-separated `name=kind:url` of PMOFLOW_CHAT_CHANNELS."""
    entries = []
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        name, _, rest = entry.partition("=")
        name = name.strip().lower().lstrip("#")
        kind, _, url = rest.strip().partition(":")
        problem = None
        if not CHANNEL_NAME.match(name):
            problem = "a name is lower-case letters, digits, '.', '_' and '-'"
        elif kind not in ("slack", "teams") or not url.strip().startswith(("https://", "http://")):
            problem = "write it as name=slack:https://... or name=teams:https://..."
        url = url.strip()
        entries.append((name, kind, url, problem))
    return entries


@dataclass(frozen=True)
class Settings:
    database_url: str = ""
    secret_key: str = ""
    max_upload_bytes: int = 2 * 1024 * 1024  # per file
    max_deployment_files: int = 50
    script_time_limit: float = 3.0  # seconds a script or expression may run
    # code not bounded by construction runs in worker processes (engine/spiff/expressions/README.md)
    sandbox_processes: int = 2  # worker processes per server/worker process, started when first needed
    script_memory_mb: int = 256  # memory budget of one worker process (RLIMIT_AS above its size at start)
    script_kill_margin: float = 1.0  # seconds past the time limit before a worker is killed
    # what one engine step may spend (engine/spiff/runtime/budget.py); past it the instance gets an incident
    step_task_limit: int = 10_000  # engine tasks run in one step without waiting
    step_time_limit: float = 5.0  # seconds one step may run its engine tasks
    call_depth_limit: int = 32  # call activities nested in one another (a process calling itself)
    multi_instance_limit: int = 1_000  # instances of one multi-instance activity
    # variables (start, messages, signals, forms, monitor edits, after every script): what can be saved and loaded
    variable_max_depth: int = 32  # levels of lists and objects in one variable
    variable_max_bytes: int = 1_048_576  # all variables of an instance (or of one request), as JSON
    signal_chain_limit: int = 8  # instances passing a thrown signal on to one another without waiting
    worker_stale_seconds: float = 60.0  # /healthz: a worker silent this long is stuck
    workflows_dir: str = "workflows"
    page_size_max: int = 200
    secure_cookies: bool = False  # set PMOFLOW_SECURE_COOKIES=1 behind HTTPS
    # browser sessions, kept on the server (engine/admin/sessions.py)
    session_idle_minutes: int = 120  # a session unused this long ends
    session_max_hours: int = 12  # a session ends this long after sign-in, used or not
    session_touch_seconds: int = 60  # last use is written at most this often per session
    # failed sign-ins, counted for every process (engine/admin/throttle.py): in the database, or in Redis
    redis_url: str = ""  # e.g. redis://127.0.0.1:6379/0; empty: the counters live in the database
    redis_prefix: str = "pmoflow"  # keys' prefix, so installations can share one Redis
    login_failures_per_account: int = 10  # per user name, from any address, within the window (0: no limit)
    login_failures_per_address: int = 50  # per address, for any user names, within the window (0: no limit)
    login_window_minutes: int = 15  # the counting window; a locked account or address waits for its end
    token_cache_seconds: float = 5.0  # how long a process reuses a checked API token (0: never)
    workflow_cache_size: int = 256  # instances whose restored workflow a process keeps for their next step (0: off)
    workflow_cache_check: bool = False  # compare every kept workflow with a fresh restore (tests; slow)
    default_timezone: str = "UTC"  # time zone of the built-in "default" business calendar
    default_group: str = "PMO Office"  # gets user tasks with no lane, candidates or process default
    webhooks_allow_private: bool = False  # PMOFLOW_WEBHOOKS_ALLOW_PRIVATE=1: private/loopback receivers
    # outgoing notifications (engine/notify, sent through engine/outbound): links back, SMTP, chat webhooks
    base_url: str = "http://127.0.0.1:5000"  # how users reach the web UI: links in emails and chat posts
    smtp_host: str = ""  # empty: no email is sent
    smtp_port: int = 587
    smtp_security: str = "starttls"  # starttls | ssl | none
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)  # never logged
    smtp_from: str = "pmoflow <pmoflow@localhost>"
    smtp_timeout: float = 10.0  # seconds per SMTP conversation step
    slack_webhook_hosts: str = "hooks.slack.com"
    teams_webhook_hosts: str = "*.webhook.office.com,*.logic.azure.com,*.api.powerplatform.com"
    chat_webhook_allow_http: bool = False  # only for local testing: allow http:// webhook URLs
    chat_webhook_allow_private: bool = False  # only for local testing: private/loopback chat webhook hosts
    chat_timeout: float = 10.0  # seconds per chat post
    # single sign-on over OpenID Connect (engine/sso, webui/auth/oidc.py); off while oidc_issuer is empty
    local_login: str = "on"  # passwords: on | admins (break-glass admins only) | off
    oidc_issuer: str = ""  # e.g. https://login.example.com/realms/acme: discovery at <issuer>/.well-known/...
    oidc_client_id: str = ""
    oidc_client_secret: str = field(default="", repr=False)  # never logged
    oidc_name: str = "single sign-on"  # the sign-in page says "Sign in with <name>"
    oidc_scopes: str = "openid profile email"  # asked for at sign-in (add "groups" where the provider needs it)
    oidc_username_claim: str = "preferred_username"  # the pmoflow user name (falls back to email, then sub)
    oidc_groups_claim: str = "groups"  # its values become pmoflow groups (the BPMN lanes)
    oidc_group_map: str = ""  # "provider value=pmoflow group, ...": only these groups follow the provider
    oidc_roles_claim: str = ""  # empty: the groups claim
    oidc_role_map: str = ""  # "provider value=role, ...": roles follow the provider; empty: roles stay local
    oidc_default_roles: str = "approver"  # roles every user signing in with the provider has
    oidc_api_audience: str = ""  # the provider's access tokens are taken by the API when their aud has this
    oidc_scope_map: str = ""  # "provider scope=pmoflow scope, ..." (pmoflow's own scope names pass as they are)
    oidc_api_clients: str = ""  # "token subject=pmoflow user, ...": a client's own tokens act as that user
    oidc_allow_private: bool = False  # only for local testing: an http:// issuer on a private/loopback address
    oidc_timeout: float = 10.0  # seconds per request to the provider (discovery, keys, token endpoint)
    oidc_cache_seconds: int = 3600  # discovery document and keys are fetched again after this long
    # the Slack app (engine/slack, engine/notify/slack_dm.py, engine/integration/slack): DMs with decision buttons
    slack_bot_token: str = field(default="", repr=False)  # xoxb-...; empty: no Slack app (webhooks still work)
    slack_signing_secret: str = field(default="", repr=False)  # verifies Slack's interaction and command requests
    slack_api_url: str = "https://slack.com/api"  # Slack's Web API; tests point it at a local receiver
    slack_link_minutes: int = 30  # how long a "connect your Slack account" link stays valid
    # deciding from a message (engine/notify/actions.py): Approve / Reject links in emails and Teams cards
    # both are defaults: an admin's choice on Administration > Channels (engine/admin/channels.py) wins over them
    email_actions: bool = True  # PMOFLOW_EMAIL_ACTIONS=0: no decision links; links already sent stop working
    slack_actions: bool = True  # PMOFLOW_SLACK_ACTIONS=0: Slack DMs carry Open only; clicks on older buttons refused
    decision_link_days: int = 7  # a decision link expires this many days after it was sent
    # channels processes may post to (pmoflow:announce, engine/notify/announce.py), named by the admin:
    # "pmo-decisions=slack:https://hooks.slack.com/services/..., it-ops=teams:https://....webhook.office.com/..."
    chat_channels: str = field(default="", repr=False)  # the URLs are secrets: never logged

    def channels(self) -> dict[str, tuple[str, str]]:
        """The named chat channels: name -> (slack | teams, webhook URL). Entries without a name, a kind of
        slack or teams and a URL are left out (`channel_problems` says why)."""
        found: dict[str, tuple[str, str]] = {}
        for name, kind, url, problem in _channel_entries(self.chat_channels):
            if problem is None:
                found[name] = (kind, url)
        return found

    def channel_problems(self) -> list[str]:
        """What is wrong with PMOFLOW_CHAT_CHANNELS, one sentence per entry (URLs never named)."""
        return [
            f"chat channel {name or '(no name)'!r}: {p}" for name, _, _, p in _channel_entries(self.chat_channels) if p
        ]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from PMOFLOW_* variables, then overrides; raises ValueError on bad numbers."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is None:
                continue
            if f.type in ("bool", bool):
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif f.type in ("int", int):
                values[f.name] = int(raw)
            elif f.type in ("float", float):
                values[f.name] = float(raw)
            else:
                values[f.name] = raw
        settings = cls(**values)
        settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
        if not settings.database_url:
            settings = replace(settings, database_url=default_database_url())
        return settings
