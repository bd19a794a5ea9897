"""Who is signed in, and the one decorator every page uses to check permissions."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import current_app
from flask_login import UserMixin, current_user, login_required

from engine.core.context import EngineContext
from engine.core.permissions import Actor, allowed, require

# The one Content-Security-Policy, set by webui/app.py on every response but JSON (a view may set its
# own, as attachments and the decision table editor do). Scripts, styles, fonts and fetches come from this
# origin only: no inline script, no event-handler attribute, no `javascript:` URL, no eval; pages load
# their behaviour from static files (webui/static, designer/web/static). One allowance, for the vendored
# dmn-js (measured in Chromium): style-src-attr 'unsafe-inline', as its decision table editor (Inferno)
# sets style attributes (8 violations on opening a table without it); <style> elements stay refused
# (style-src-elem falls back to style-src 'self') but on that editor's page (DMN_EDITOR_POLICY), and no
# page of ours uses a style attribute (tests/webui/test_csp.py).
# JSON gets no policy: it runs nothing (nosniff keeps browsers from reading it as HTML), and Chromium's
# JSON viewer styles itself inline, which the policy would report. See README, "Content-Security-Policy".
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def policy_with_form_targets(origins: list[str]) -> str:
    """The one policy, letting forms also lead to `origins`: signing out submits a form whose answer redirects
    to the OpenID provider's logout (RP-initiated logout), and Chromium applies form-action to redirects."""
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", " ".join(["form-action 'self'", *origins]))


# The decision table editor's page only: dmn-js's FEEL cell editor (CodeMirror) mounts its styles as a
# <style> element when a cell is edited, and dmn-js offers no way to hand it a nonce, so that page also
# allows inline style elements (style-src-elem). Scripts stay as strict as everywhere else.
DMN_EDITOR_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src-attr 'unsafe-inline'", "style-src-attr 'unsafe-inline'; style-src-elem 'self' 'unsafe-inline'"
)


class WebUser(UserMixin):
    """A signed-in user. The id flask-login keeps in the cookie is the server-side session's secret id
    (engine/admin/sessions.py), checked on every request, so ending the session takes effect at once."""

    def __init__(self, actor: Actor, token: str, display_name: str, session_id: str) -> None:
        self.actor = actor
        self.token = token
        self.display_name = display_name
        self.session_id = session_id  # the session's public id (the account page marks "this session")

    def get_id(self) -> str:
        return self.token

    @property
    def username(self) -> str:
        return self.actor.username

    def can(self, action: str) -> bool:
        return allowed(self.actor, action)


def engine_ctx() -> EngineContext:
    ctx: EngineContext = current_app.extensions["pmoflow"]
    return ctx


def actor() -> Actor:
    """The signed-in user's actor (pages are wrapped in `requires`, so someone is signed in)."""
    user: WebUser = current_user
    return user.actor


_P = ParamSpec("_P")
_R = TypeVar("_R")


def requires(action: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Sign-in required (else the login page), then `action` from the permission table (else Forbidden naming
    the permission: the error boundary, webui/errors.py, shows the 403 page or answers JSON)."""

    def decorate(view: Callable[_P, _R]) -> Callable[_P, _R]:
        @wraps(view)
        @login_required
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            require(actor(), action)
            return view(*args, **kwargs)

        return wrapper

    return decorate
