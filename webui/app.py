"""The application factory: one Flask app serving the web UI and the API."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, redirect, render_template, request, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.routing import IntegerConverter, UnicodeConverter

import api
from api import scim
from designer import web as designer_pages
from designer.web import panel as designer_panel
from engine.admin import database
from engine.bootstrap import context as engine_context
from engine.core import bounds
from engine.core.clock import Clock
from engine.core.config import Settings, with_kept_secret_key
from engine.core.context import EngineContext
from engine.runtime import heartbeats
from webui import (
    account,
    admin,
    audit,
    auth,
    decide,
    errors,
    filters,
    monitor,
    notifications,
    requests,
    saved_views,
    slack,
    tasklist,
)
from webui.auth import oidc
from webui.extensions import csrf, login_manager
from webui.security import CONTENT_SECURITY_POLICY, policy_with_form_targets

FAVICON = Path(__file__).parent / "static" / "favicon.ico"  # webui/static/favicon.svg, drawn in 16, 32 and 48 px


class BrowserSessions(SecureCookieSessionInterface):
    """The session cookie is for the browser pages: API requests (bearer tokens only) neither read
    nor set it, which also spares each of them the cookie's signing set-up."""

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:  # noqa: D102
        if request.path.startswith("/api/"):
            return self.null_session_class()
        return super().open_session(app, request)


class BoundedInt(IntegerConverter):
    """`<int:...>` in every route stops at bounds.INT_MAX: a longer number is a 404, not an overflow in SQL."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", bounds.INT_MAX)
        super().__init__(*args, **kwargs)


class PlainText(UnicodeConverter):
    """`<name>` and `<string:name>` in every route match no NUL character: such a path names nothing (a 404),
    and PostgreSQL would refuse it in a query."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.regex = self.regex.replace("[^/]", r"[^/\x00]", 1)  # Werkzeug sets it here, with any length


def create_app(config: Mapping[str, Any] | None = None, clock: Clock | None = None) -> Flask:
    """Build the app from PMOFLOW_* environment variables, then `config` (tests pass theirs)."""
    config = dict(config or {})
    overrides = {k.lower(): config.pop(k) for k in list(config) if k.lower() in Settings.__dataclass_fields__}
    settings = with_kept_secret_key(Settings.from_env(**overrides))
    app = Flask(__name__)
    app.url_map.converters["int"] = BoundedInt  # before any route is added
    app.url_map.converters["default"] = app.url_map.converters["string"] = PlainText
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes * max(1, min(settings.max_deployment_files, 10)),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_max_hours),
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.config.update(config)
    app.session_interface = BrowserSessions()
    ctx = engine_context(settings, clock=clock)  # the composition root: subscribers, job handlers
    app.extensions["pmoflow"] = ctx
    api.register(app)
    errors.init_app(app)  # the one error boundary: JSON for the API and JSON views, else pages
    _register_browser_security(app, oidc.form_targets(settings))
    for blp in api.BLUEPRINTS:
        csrf.exempt(blp)  # the API takes bearer tokens, never cookies
    app.register_blueprint(scim.bp)  # SCIM 2.0 provisioning at /scim/v2 (bearer tokens with the scope scim)
    csrf.exempt(scim.bp)
    app.register_blueprint(auth.bp)
    oidc.init_app(app, settings)  # single sign-on, when PMOFLOW_OIDC_ISSUER is set (webui/auth/oidc.py)
    app.register_blueprint(tasklist.bp)
    app.register_blueprint(requests.bp)
    app.register_blueprint(notifications.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(decide.bp)  # decision links: the link is the credential (engine/notify/actions.py)
    notifications.init_app(app)
    app.register_blueprint(admin.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(monitor.bp)
    app.register_blueprint(designer_pages.bp)
    app.register_blueprint(designer_panel.bp)  # designer: condition builder, dry runs
    slack.init_app(app)  # the Slack app's request URLs (signed by Slack) and account links
    saved_views.init_app(app)  # saved views of the list pages, and their panel's Jinja global
    filters.register(app)
    _register_health(app, ctx)

    @app.get("/")
    def index() -> ResponseReturnValue:
        """Signed in: your inbox. Otherwise what pmoflow is, the way to sign in and the API's entry points."""
        if current_user.is_authenticated:
            return redirect(url_for("tasklist.inbox"))
        return render_template("index.html", api_version="v1", base=request.host_url.rstrip("/"))

    @app.get("/favicon.ico")
    def favicon() -> ResponseReturnValue:
        """The icon browsers ask for by this name (pages link the SVG one as well)."""
        response = Response(FAVICON.read_bytes(), mimetype="image/vnd.microsoft.icon")
        response.cache_control.public, response.cache_control.max_age = True, 86400
        return response

    return app


def _register_browser_security(app: Flask, form_targets: list[str]) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to see this page."
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    policy = policy_with_form_targets(form_targets) if form_targets else CONTENT_SECURITY_POLICY

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype != "application/json":
            response.headers.setdefault("Content-Security-Policy", policy)
        return response


def _register_health(app: Flask, ctx: EngineContext) -> None:
    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        """200 when the database answers and nothing is stuck, else 503 naming what is: a step or the worker
        of this process (engine.runtime.health), a worker of any process gone silent (engine.runtime.heartbeats).
        `?scope=process` looks at this process only (for a load balancer taking one process out). Every
        answer carries the answering process's warm workflow cache figures (engine.runtime.warm)."""
        cache = ctx.workflows.figures()
        figures = {"process": os.getpid(), **asdict(cache), "hit_rate": cache.hit_rate}
        if not database.answers(ctx):
            return jsonify(status="unavailable", database="unreachable", workflow_cache=figures), 503
        stuck = heartbeats.stuck(ctx, everywhere=request.args.get("scope") != "process")
        if stuck:
            return jsonify(status="stuck", database="ok", stuck=stuck, workflow_cache=figures), 503
        return jsonify(status="ok", database="ok", workflow_cache=figures)
