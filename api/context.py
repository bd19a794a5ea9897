"""Access to the engine context bound to the running app."""

from __future__ import annotations

from flask import current_app

from engine.core.context import EngineContext


def engine_ctx() -> EngineContext:
    ctx: EngineContext = current_app.extensions["pmoflow"]
    return ctx
