"""The `pmoflow` command line (init, serve, worker, deploy, users, tokens, audit): `cli.main.main`.

It calls engine services only (never SQLAlchemy or engine.db) and starts the web app through
`webui.server`; `tests/test_layering.py` enforces both.
"""
