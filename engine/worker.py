"""The background worker: fires due timers, waking for the earliest one instead of polling blindly."""

from __future__ import annotations

import logging
import threading

from engine.context import EngineContext
from engine.timers import fire_due, next_due

log = logging.getLogger("pmoflow.worker")


class Worker:
    """Runs until `stop` is set; `max_sleep` bounds how long it waits for new work from elsewhere."""

    def __init__(self, ctx: EngineContext, max_sleep: float = 2.0, batch: int = 100) -> None:
        self.ctx = ctx
        self.max_sleep = max_sleep
        self.batch = batch
        self.stop = threading.Event()

    def run_once(self) -> int:
        """Fire what is due now; returns the number of instances stepped."""
        return fire_due(self.ctx, self.batch)

    def run_forever(self) -> None:
        log.info("worker started")
        while not self.stop.is_set():
            try:
                fired = self.run_once()
            except Exception:  # noqa: BLE001 - a failed round is logged and retried; the step rolled back
                log.exception("timer round failed")
                fired = 0
            if fired < self.batch:
                self.stop.wait(self._sleep_seconds())
        log.info("worker stopped")

    def _sleep_seconds(self) -> float:
        due = next_due(self.ctx)
        if due is None:
            return self.max_sleep
        wait = (due - self.ctx.clock.now()).total_seconds() + 0.01
        return min(self.max_sleep, max(0.01, wait))

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="pmoflow-worker", daemon=True)
        thread.start()
        return thread
