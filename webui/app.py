"""The application factory: one Flask app serving the web UI and the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, jsonify, render_template, request
from sqlalchemy import text

import api
from engine.clock import Clock
from engine.config import Settings
from engine.context import EngineContext


def create_app(config: Mapping[str, Any] | None = None, clock: Clock | None = None) -> Flask:
    """Build the app from PMOFLOW_* environment variables, then `config` (tests pass theirs)."""
    config = dict(config or {})
    overrides = {k.lower(): config.pop(k) for k in list(config) if k.lower() in Settings.__dataclass_fields__}
    settings = Settings.from_env(**overrides)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key or _dev_secret(),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes * max(1, min(settings.max_deployment_files, 10)),
        JSON_SORT_KEYS=False,
    )
    app.config.update(config)
    ctx = EngineContext.from_settings(settings, clock=clock)
    app.extensions["pmoflow"] = ctx
    api.register(app)
    _register_health(app, ctx)

    @app.get("/")
    def index():  # type: ignore[no-untyped-def]
        return render_template("index.html", api_version="v1", base=request.host_url.rstrip("/"))

    return app


def _dev_secret() -> str:
    import secrets

    return secrets.token_hex(32)


def _register_health(app: Flask, ctx: EngineContext) -> None:
    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        try:
            with ctx.db.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any database failure means unhealthy
            return jsonify(status="unavailable", database="unreachable"), 503
        return jsonify(status="ok", database="ok")
