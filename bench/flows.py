"""Instances driven through the HTTP API by concurrent clients, over one or more server groups.

Used by `bench.onetask` (one user task per instance, beside Camunda 8's figure) and `bench.scaleout`
(two gunicorn groups over one PostgreSQL). A `Flow` says what an instance is (process, start
variables, the tasks to complete and whose token completes each); a `Router` says which server group
each request goes to, as a load balancer in front of several hosts would:

- `none`: every request to a group drawn at random (no affinity); within a group each client keeps
  one keep-alive connection, so one server process, as behind a real load balancer;
- `instance`: a start to a group drawn at random (it has no instance id yet), every later request
  about an instance to group `hash(instance id) % groups`, as a load balancer hashing the instance id
  would (the README's "Sticky routing").
"""

from __future__ import annotations

import http.client
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .client import Api, Errors, cache_figures, describe, hits_and_misses
from .cpu import CpuUse, process_cpu, window
from .load import Budget
from .server import Stack
from .stats import Samples


@dataclass(frozen=True)
class Flow:
    process: str
    steps: tuple[tuple[str, str], ...]  # (element id of the open task, user whose token completes it)
    data: dict[str, Any]
    variables: Callable[[int], dict[str, Any]]


class Router:
    """Which group's connection a request goes to (one Router per client thread)."""

    def __init__(self, urls: list[str], policy: str, seed: int = 0) -> None:
        if policy not in ("none", "instance"):
            raise ValueError(f"unknown routing policy {policy!r}")
        self.apis = [Api(url) for url in urls]
        self.policy = policy
        self._draw = random.Random(seed)  # noqa: S311 - spreading load, not a secret

    def api(self, instance_id: str | None) -> Api:
        if self.policy == "instance" and instance_id is not None:
            return self.apis[uuid.UUID(instance_id).int % len(self.apis)]
        return self.apis[self._draw.randrange(len(self.apis))]

    def close(self) -> None:
        for api in self.apis:
            api.close()


def one_instance(
    router: Router, tokens: dict[str, str], flow: Flow, number: int, prefix: str, samples: Samples, errors: Errors
) -> bool:
    """Start one instance and complete its tasks in order; False (with the error recorded) on any failure."""
    body = {"process": flow.process, "business_key": f"{prefix}-{number}", "variables": flow.variables(number)}
    path = "/api/v1/process-instances"
    response = router.api(None).timed(samples, "start", "POST", path, tokens["starter"], body)
    if response.status != 201:
        errors.add(describe("start", "POST", path, response))
        return False
    instance_id, open_tasks = response.body["id"], response.body.get("open_tasks") or []
    for element, user in flow.steps:
        if len(open_tasks) != 1 or open_tasks[0].get("element_id") != element:
            errors.add(f"instance {instance_id}: expected open task {element}, got {open_tasks}")
            return False
        path = f"/api/v1/tasks/{open_tasks[0]['id']}/complete"
        api = router.api(instance_id)
        response = api.timed(samples, "complete", "POST", path, tokens[user], {"data": dict(flow.data)})
        if response.status != 200:
            errors.add(describe("complete", "POST", path, response))
            return False
        open_tasks = response.body.get("open_tasks") or []
    if response.body.get("status") != "completed":
        errors.add(f"instance {instance_id}: {response.body.get('status')} after its last task")
        return False
    return True


@dataclass
class Measured:
    label: str
    instances: int
    seconds: float
    cpu: CpuUse
    workers_cpu: float  # `pmoflow worker` processes, if any
    hits: int
    misses: int
    samples: Samples
    errors: Errors = field(default_factory=Errors)

    @property
    def rate(self) -> float:
        return self.instances / self.seconds if self.seconds else 0.0

    @property
    def hit_rate(self) -> float | None:
        return self.hits / (self.hits + self.misses) if self.hits + self.misses else None


def drive(
    stack: Stack,
    urls: list[str],
    flow: Flow,
    clients: int,
    duration: float,
    policy: str,
    label: str,
    processes_per_group: int,
    worker_pids: list[int] | None = None,
) -> Measured:
    """`clients` threads start instances for `duration` seconds (those in flight are finished); CPU of the
    servers, PostgreSQL, the clients and `worker_pids` is measured over the window, cache figures read from
    every group's `/healthz` before and after."""
    tokens = stack.tokens
    samples, errors = Samples(), Errors()
    budget = Budget(deadline=time.monotonic() + duration)
    prefix = f"{label}-{uuid.uuid4().hex[:6]}"
    before = {url: cache_figures(url, processes_per_group) for url in urls}
    done: list[int] = []

    def client(seed: int) -> None:
        router = Router(urls, policy, seed)
        finished = 0
        try:
            while (number := budget.next()) is not None:
                try:
                    finished += one_instance(router, tokens, flow, number, prefix, samples, errors)
                except (OSError, http.client.HTTPException) as err:
                    errors.add(f"{prefix}-{number}: transport error {type(err).__name__}: {err}")
                    if not stack.alive():
                        budget.stop.set()
                        break
        finally:
            router.close()
            done.append(finished)

    workers_before = process_cpu(worker_pids or [])
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    with window(stack.server_pids, stack.database_pids) as cpu:
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - began
    workers_cpu = sum(v - workers_before.get(p, 0.0) for p, v in process_cpu(worker_pids or []).items())
    hits = misses = 0
    for url in urls:
        h, m = hits_and_misses(before[url], cache_figures(url, processes_per_group))
        hits, misses = hits + h, misses + m
    return Measured(label, sum(done), seconds, cpu, workers_cpu, hits, misses, samples, errors)


def cpu_lines(m: Measured) -> list[str]:
    """CPU per completed instance by party, instances per CPU second, and what the costs allow on this machine."""
    n = max(m.instances, 1)
    cpu = m.cpu
    server, database, clients, workers = (
        cpu.server / n * 1000,
        cpu.database / n * 1000,
        cpu.client / n * 1000,
        m.workers_cpu / n * 1000,
    )
    total = server + database + clients + workers
    per_second = {
        "server": 1000 / server if server else 0.0,
        "database": 1000 / database if database else 0.0,
        "clients": 1000 / clients if clients else 0.0,
        "all": 1000 / total if total else 0.0,
    }
    rows = [
        f"CPU ms per instance: server {server:.2f}, PostgreSQL {database:.2f}, clients {clients:.2f}"
        + (f", workers {workers:.2f}" if m.workers_cpu else "")
        + f"; all {total:.2f}",
        "instances per CPU second: "
        + ", ".join(f"{k} {v:.0f}" for k, v in per_second.items())
        + f"; CPU-bound ceiling on {cpu.cpus} CPUs {cpu.cpus * per_second['all']:.0f}/s",
        f"machine busy {cpu.busy_share:.0%}, other processes {cpu.other_share:.0%} of {cpu.cpus} CPUs",
    ]
    return rows
