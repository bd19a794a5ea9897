"""The background worker: fires due timers and runs due jobs, waking for the earliest one
instead of polling blindly (and at once when this process enqueues a job)."""

from __future__ import annotations

import logging
import threading
from functools import partial

from engine.audit import retention
from engine.core.context import EngineContext
from engine.runtime import jobs
from engine.runtime.heartbeats import Heartbeat
from engine.runtime.timers import fire_due, next_due

log = logging.getLogger("pmoflow.worker")


class Worker:
    """Runs until `stop` is set; `max_sleep` bounds how long it waits for new work from elsewhere."""

    def __init__(self, ctx: EngineContext, max_sleep: float = 2.0, batch: int = 100, job_batch: int = 10) -> None:
        self.ctx = ctx
        self.max_sleep = max_sleep
        self.batch = batch
        self.job_batch = job_batch
        self.stop = threading.Event()
        self.heartbeat: Heartbeat | None = None  # while `run_forever` runs
        retention.ensure_scheduled(ctx)  # the daily purge re-schedules itself from then on

    def run_once(self) -> int:
        """Fire what is due now; returns the number of instances stepped and jobs run."""
        return self.fire_timers() + self.run_jobs()

    def fire_timers(self) -> int:
        return fire_due(self.ctx, self.batch)

    def run_jobs(self) -> int:
        heartbeat = self.heartbeat
        beat = partial(heartbeat.beat, "jobs") if heartbeat is not None else None  # between two jobs too
        return jobs.run_due(self.ctx, self.job_batch, jobs.worker_id(), beat=beat)

    def run_forever(self) -> None:
        log.info("worker started")
        name_of_worker = jobs.worker_id()
        self.heartbeat = heartbeat = Heartbeat(self.ctx, name_of_worker)  # /healthz: one silent for long is stuck
        while not self.stop.is_set():
            busy = False
            rounds = (("timers", self.fire_timers, self.batch), ("jobs", self.run_jobs, self.job_batch))
            for name, step, batch in rounds:
                heartbeat.beat(name)
                try:
                    busy = step() >= batch or busy
                except Exception:  # noqa: BLE001 - a failed round is logged and retried; its step rolled back
                    log.exception("%s round failed", name)
            if not busy:
                heartbeat.beat("waiting")
                jobs.WAKE.wait(self._sleep_seconds())
                jobs.WAKE.clear()
        heartbeat.stop()
        self.heartbeat = None
        jobs.release_worker(self.ctx, name_of_worker)
        log.info("worker stopped")

    def request_stop(self) -> None:
        self.stop.set()
        jobs.WAKE.set()

    def _sleep_seconds(self) -> float:
        dues = [d for d in (next_due(self.ctx), jobs.next_run_at(self.ctx)) if d is not None]
        if not dues:
            return self.max_sleep
        wait = (min(dues) - self.ctx.clock.now()).total_seconds() + 0.01
        return min(self.max_sleep, max(0.01, wait))

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="pmoflow-worker", daemon=True)
        thread.start()
        return thread
