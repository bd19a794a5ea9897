"""(b) The 3-step approval through the HTTP API, with N concurrent clients.

Each client thread loops: start `project-intake` (the response carries the first task),
then for each approval complete the task with the token of a user in its group; each
complete answer carries the instance's next open task, as a real client would use it
(4 requests per instance). An instance counts once its third approval answered 2xx; every
non-2xx is an error.
"""

from __future__ import annotations

import http.client
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .baseline import DECISION, PROCESS, STEPS, start_variables
from .client import Api, Errors, describe
from .cpu import CpuUse, window
from .server import APPROVERS, STARTER, BenchError, Stack
from .stats import Samples

REQUEST_KINDS = ("start", "complete")


@dataclass
class Budget:
    """When to stop starting instances: after `count` instances or at `deadline` (monotonic)."""

    count: int | None = None
    deadline: float | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    _numbers: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self) -> int | None:
        """The number of the next instance to start, or None when the budget is spent."""
        if self.stop.is_set() or (self.deadline is not None and time.monotonic() >= self.deadline):
            return None
        with self._lock:
            number = next(self._numbers)
        if self.count is not None and number >= self.count:
            return None
        return number


@dataclass
class LoadResult:
    kind: str
    clients: int
    instances: int
    seconds: float
    samples: Samples
    errors: Errors
    cpu: CpuUse
    verified: int = 0

    @property
    def rate(self) -> float:
        return self.instances / self.seconds if self.seconds else 0.0


def one_instance(api: Api, stack: Stack, number: int, prefix: str, samples: Samples | None, errors: Errors) -> bool:
    """Drive one instance through its three approvals; False (with the error recorded) on any failure."""
    starter = stack.tokens[STARTER.name]
    body = {"process": PROCESS, "business_key": f"{prefix}-{number}", "variables": start_variables(number)}
    path = "/api/v1/process-instances"
    response = api.timed(samples, "start", "POST", path, starter, body)
    if response.status != 201:
        errors.add(describe("start", "POST", path, response))
        return False
    instance = response.body
    for element in STEPS:
        task = _open_task(instance, element)
        if task is None:
            errors.add(f"instance {instance.get('id')}: expected open task {element}, got {instance.get('open_tasks')}")
            return False
        path = f"/api/v1/tasks/{task['id']}/complete"
        token = stack.tokens[APPROVERS[element].name]
        response = api.timed(samples, "complete", "POST", path, token, {"data": dict(DECISION)})
        if response.status != 200:
            errors.add(describe("complete", "POST", path, response))
            return False
        instance = {"id": instance["id"], "open_tasks": response.body.get("open_tasks")}  # the next task
    return True


def _open_task(instance: dict[str, Any], element: str) -> dict[str, Any] | None:
    tasks = instance.get("open_tasks") or []
    return tasks[0] if len(tasks) == 1 and tasks[0].get("element_id") == element else None


def _client(
    stack: Stack, budget: Budget, prefix: str, samples: Samples | None, errors: Errors, done: list[int]
) -> None:
    api = Api(stack.base_url)
    finished = 0
    try:
        while (number := budget.next()) is not None:
            try:
                if one_instance(api, stack, number, prefix, samples, errors):
                    finished += 1
            except (OSError, http.client.HTTPException) as err:
                errors.add(f"instance {prefix}-{number}: transport error {type(err).__name__}: {err}")
                if not stack.alive():
                    errors.add(f"gunicorn exited; stopping the clients\n{stack.log_tail()}")
                    budget.stop.set()
                if budget.stop.is_set():
                    break
            except Exception as err:  # a malformed answer: record it, keep the other clients going
                errors.add(f"instance {prefix}-{number}: {type(err).__name__}: {err}")
    finally:
        api.close()
        done.append(finished)


def drive(
    stack: Stack, clients: int, budget: Budget, prefix: str, samples: Samples | None, errors: Errors
) -> tuple[int, float]:
    """Run `clients` threads until the budget is spent; returns (instances completed, seconds)."""
    done: list[int] = []
    threads = [
        threading.Thread(
            target=_client, args=(stack, budget, prefix, samples, errors, done), name=f"client-{i}", daemon=True
        )
        for i in range(clients)
    ]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
    except BaseException:
        budget.stop.set()
        raise
    return sum(done), time.perf_counter() - began


def run_load(stack: Stack, clients: int, duration: float | None, count: int | None, warmup: int) -> LoadResult:
    """Warm up (`warmup` instances per client, not measured), then measure for `duration` s or `count` instances."""
    warm_errors = Errors()
    if warmup:
        drive(stack, clients, Budget(count=warmup * clients), f"warmup-{stack.kind}", None, warm_errors)
    samples, errors = Samples(), Errors()
    errors.items.extend(f"(warm-up) {e}" for e in warm_errors.items)
    budget = Budget(count=count) if count else Budget(deadline=time.monotonic() + (duration or 15.0))
    prefix = f"bench-{stack.kind}"
    with window(stack.server_pids, stack.database_pids) as cpu:
        instances, seconds = drive(stack, clients, budget, prefix, samples, errors)
    if not stack.alive():
        raise BenchError("gunicorn exited during the run; first errors:\n" + "\n".join(errors.items[:5]))
    result = LoadResult(stack.kind, clients, instances, seconds, samples, errors, cpu)
    result.verified = verify(stack, prefix, errors)
    if result.verified != instances:
        errors.add(
            f"verification: {instances} instances finished their approvals but {result.verified} "
            f"are completed with outcome 'approved'"
        )
    return result


def verify(stack: Stack, prefix: str, errors: Errors, max_pages: int = 1000) -> int:
    """How many completed project-intake instances of this run ended with outcome 'approved' (not timed)."""
    api = Api(stack.base_url)
    approved = 0
    try:
        for page in range(1, max_pages + 1):
            path = f"/api/v1/process-instances?process={PROCESS}&status=completed&per_page=200&page={page}"
            response = api.request("GET", path, stack.tokens[STARTER.name])
            if response.status != 200:
                errors.add(describe("verify", "GET", path, response))
                break
            items = response.body["items"]
            approved += sum(
                1
                for item in items
                if (item.get("business_key") or "").startswith(prefix + "-")
                and item.get("variables", {}).get("outcome") == "approved"
            )
            if page * 200 >= response.body["total"] or not items:
                break
    except (OSError, http.client.HTTPException) as err:
        errors.add(f"verify: transport error {type(err).__name__}: {err}")
    finally:
        api.close()
    return approved
