"""The application factory: one Flask app serving the web UI and the API."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.typing import ResponseReturnValue

import api
from designer import web as designer_pages
from designer.web import panel as designer_panel
from engine.admin import database
from engine.bootstrap import context as engine_context
from engine.core.clock import Clock
from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.runtime import heartbeats
from webui import account, admin, audit, auth, errors, filters, monitor, notifications, requests, tasklist
from webui.extensions import csrf, limiter, login_manager


class BrowserSessions(SecureCookieSessionInterface):
    """The session cookie is for the browser pages: API requests (bearer tokens only) neither read
    nor set it, which also spares each of them the cookie's signing set-up."""

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:  # noqa: D102
        if request.path.startswith("/api/"):
            return self.null_session_class()
        return super().open_session(app, request)


def create_app(config: Mapping[str, Any] | None = None, clock: Clock | None = None) -> Flask:
    """Build the app from PMOFLOW_* environment variables, then `config` (tests pass theirs)."""
    config = dict(config or {})
    overrides = {k.lower(): config.pop(k) for k in list(config) if k.lower() in Settings.__dataclass_fields__}
    settings = Settings.from_env(**overrides)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key or _dev_secret(),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes * max(1, min(settings.max_deployment_files, 10)),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.config.update(config)
    app.session_interface = BrowserSessions()
    ctx = engine_context(settings, clock=clock)  # the composition root: subscribers, job handlers
    app.extensions["pmoflow"] = ctx
    api.register(app)
    errors.init_app(app)  # the one error boundary: JSON for the API and JSON views, else pages
    _register_browser_security(app)
    for blp in api.BLUEPRINTS:
        csrf.exempt(blp)  # the API takes bearer tokens, never cookies
    app.register_blueprint(auth.bp)
    app.register_blueprint(tasklist.bp)
    app.register_blueprint(requests.bp)
    app.register_blueprint(notifications.bp)
    app.register_blueprint(account.bp)
    notifications.init_app(app)
    app.register_blueprint(admin.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(monitor.bp)
    app.register_blueprint(designer_pages.bp)
    app.register_blueprint(designer_panel.bp)  # designer: condition builder, dry runs
    filters.register(app)
    _register_health(app, ctx)

    @app.get("/")
    def index() -> ResponseReturnValue:
        return render_template("index.html", api_version="v1", base=request.host_url.rstrip("/"))

    return app


def _register_browser_security(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to see this page."
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    limiter.init_app(app)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def _dev_secret() -> str:
    """Without PMOFLOW_SECRET_KEY, a key kept in var/secret_key, so sessions survive restarts and workers."""
    import secrets

    path = Path("var") / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def _register_health(app: Flask, ctx: EngineContext) -> None:
    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        """200 when the database answers and nothing is stuck, else 503 naming what is: a step or the worker
        of this process (engine.runtime.health), a worker of any process gone silent (engine.runtime.heartbeats).
        `?scope=process` looks at this process only (for a load balancer taking one process out)."""
        if not database.answers(ctx):
            return jsonify(status="unavailable", database="unreachable"), 503
        stuck = heartbeats.stuck(ctx, everywhere=request.args.get("scope") != "process")
        if stuck:
            return jsonify(status="stuck", database="ok", stuck=stuck), 503
        return jsonify(status="ok", database="ok")
