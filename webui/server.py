"""Serving the app with gunicorn (production-grade on every platform we support)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from webui.app import create_app


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_app()


def _start_sandbox(server_worker: Any) -> None:
    """gunicorn hook: each web worker process starts its sandbox worker processes in the background now."""
    server_worker.wsgi.extensions["pmoflow"].start_sandbox()


def _start_timer_worker(server_worker: Any) -> None:
    """gunicorn hook: each web worker process also runs a timer worker thread (and its sandbox processes)."""
    from engine.runtime.worker import Worker

    _start_sandbox(server_worker)

    worker = Worker(server_worker.wsgi.extensions["pmoflow"])
    server_worker.pmoflow_worker = (worker, worker.start_thread())


def _stop_timer_worker(_arbiter: Any, server_worker: Any) -> None:
    """gunicorn hook, as a web worker process exits (and in the master, with nothing to do): its timer
    worker stops cleanly, giving back its job leases and deleting its heartbeat row (engine.runtime.heartbeats)."""
    running = getattr(server_worker, "pmoflow_worker", None)
    if running is not None:
        worker, thread = running
        worker.request_stop()
        thread.join(timeout=5)


def serve(host: str, port: int, workers: int = 1, threads: int = 4, timer_worker: bool = True) -> None:
    """Serve until interrupted; with `timer_worker`, due timers fire in the same processes."""
    print(f"pmoflow on http://{host}:{port}  (API: http://{host}:{port}/api/v1/openapi.json)", flush=True)
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "accesslog": "-",
        "timeout": 60,
        "graceful_timeout": 10,
        "post_worker_init": _start_sandbox,
    }
    if timer_worker:
        options["post_worker_init"] = _start_timer_worker
        options["worker_exit"] = _stop_timer_worker
    _Gunicorn(options).run()
