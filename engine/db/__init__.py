"""Persistence: models, sessions, the unit of work, migrations."""

from engine.db import offers as _offers  # noqa: F401 - registers the task-offer hook
