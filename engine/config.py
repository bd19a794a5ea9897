"""Settings, read from the environment in one place and passed in everywhere else."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
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
    max_upload_bytes: int = 2 * 1024 * 1024      # per file
    max_deployment_files: int = 50
    script_time_limit: float = 3.0               # seconds a script or expression may run
    workflows_dir: str = "workflows"
    page_size_max: int = 200
    secure_cookies: bool = False                 # set PMOFLOW_SECURE_COOKIES=1 behind HTTPS

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
