"""Persistence: models, sessions, the unit of work, migrations."""
