"""Serving the app with gunicorn (production-grade on every platform we support)."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from webui.app import create_app


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):  # type: ignore[no-untyped-def]
        return create_app()


def serve(host: str, port: int, workers: int = 1, threads: int = 4) -> None:
    """Serve until interrupted."""
    print(f"pmoflow on http://{host}:{port}  (API: http://{host}:{port}/api/v1/openapi.json)", flush=True)
    _Gunicorn({
        "bind": f"{host}:{port}", "workers": workers, "threads": threads, "worker_class": "gthread",
        "accesslog": "-", "timeout": 60, "graceful_timeout": 10,
    }).run()
