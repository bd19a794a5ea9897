"""Settings, read from the environment in one place and passed in everywhere else."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

PREFIX = "PMOFLOW_"


def default_database_url() -> str:
    """An SQLite file under ./var/ (created on first use)."""
    return f"sqlite:///{Path('var').absolute() / 'pmoflow.sqlite3'}"


@dataclass(frozen=True)
class Settings:
    database_url: str = ""
    secret_key: str = ""
    max_upload_bytes: int = 2 * 1024 * 1024  # per file
    max_deployment_files: int = 50
    script_time_limit: float = 3.0  # seconds a script or expression may run
    # what one engine step may spend (engine/spiff/runtime/budget.py); past it the instance gets an incident
    step_task_limit: int = 10_000  # engine tasks run in one step without waiting
    step_time_limit: float = 5.0  # seconds one step may run its engine tasks
    call_depth_limit: int = 32  # call activities nested in one another (a process calling itself)
    multi_instance_limit: int = 1_000  # instances of one multi-instance activity
    signal_chain_limit: int = 8  # instances passing a thrown signal on to one another without waiting
    worker_stale_seconds: float = 60.0  # /healthz: a worker silent this long is stuck
    workflows_dir: str = "workflows"
    page_size_max: int = 200
    secure_cookies: bool = False  # set PMOFLOW_SECURE_COOKIES=1 behind HTTPS
    token_cache_seconds: float = 5.0  # how long a process reuses a checked API token (0: never)
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
