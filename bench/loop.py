"""(c) Does a long history slow a step down? Complete-task latency after 10 and after 1,000 passes.

Uses bench/review-loop.bpmn (deployed by `Stack`): one user task `review` in lane "IT Manager"
that loops while `again` is true. A short instance is driven to `short` passes and a long one
to `long` passes; then completions are measured alternately on both, so any drift of the
machine hits both alike.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from typing import Any

from .client import Api, Errors, Response, describe
from .server import APPROVERS, STARTER, Stack
from .stats import Samples, percentile

LOOP_PROCESS = "review-loop"
REVIEWER = APPROVERS["it_manager_approval"]  # a member of "IT Manager"


class LoopFailed(Exception):
    """An answer was not what the loop needs to go on."""


@dataclass
class LoopResult:
    kind: str
    short: int
    long: int
    samples: Samples  # "complete@<short>" and "complete@<long>"
    history: dict[int, int]  # passes -> completed task rows the instance has
    errors: Errors

    def p(self, passes: int, pct: float) -> float:
        return percentile(self.samples.by_kind.get(f"complete@{passes}", []), pct)

    @property
    def ratio(self) -> float:
        return self.p(self.long, 50) / self.p(self.short, 50)


class LoopInstance:
    """One review-loop instance and its current open task."""

    def __init__(self, api: Api, stack: Stack, label: str) -> None:
        self.api, self.stack = api, stack
        self.starter = stack.tokens[STARTER.name]
        self.reviewer = stack.tokens[REVIEWER.name]
        path = "/api/v1/process-instances"
        response = api.request("POST", path, self.starter, {"process": LOOP_PROCESS, "business_key": label})
        self._check(response, 201, "start", "POST", path)
        self.id = response.body["id"]
        self.task = self._only_task(response.body)
        self.passes = 0

    def complete(self, samples: Samples | None, kind: str, again: bool = True) -> None:
        """Complete the open review (timed into `samples`); the answer names the next one."""
        path = f"/api/v1/tasks/{self.task}/complete"
        response = self.api.timed(samples, kind, "POST", path, self.reviewer, {"data": {"again": again}})
        self._check(response, 200, "complete", "POST", path)
        self.passes += 1
        if again:
            self.task = self._only_task({**response.body, "id": self.id})

    def history(self) -> int:
        """Completed task rows of this instance, as the API reports them."""
        path = f"/api/v1/tasks?instance={self.id}&status=completed&per_page=1"
        response = self.api.request("GET", path, self.starter)
        self._check(response, 200, "history", "GET", path)
        return int(response.body["total"])

    def _only_task(self, body: dict[str, Any]) -> str:
        tasks = body.get("open_tasks") or []
        if not isinstance(tasks, list) or len(tasks) != 1 or tasks[0].get("element_id") != "review":
            raise LoopFailed(f"instance {body.get('id')}: expected one open 'review' task, got {tasks}")
        return str(tasks[0]["id"])

    @staticmethod
    def _check(response: Response, status: int, kind: str, method: str, path: str) -> None:
        if response.status != status:
            raise LoopFailed(describe(kind, method, path, response))


def run_loop(stack: Stack, short: int = 10, long: int = 1000, measured: int = 50) -> LoopResult:
    """Drive one instance to `short` and one to `long` passes, then time `measured` completions of each."""
    errors, samples = Errors(), Samples()
    api = Api(stack.base_url)
    history: dict[int, int] = {}
    try:
        small = LoopInstance(api, stack, f"loop-{short}")
        large = LoopInstance(api, stack, f"loop-{long}")
        for target, instance in ((short, small), (long, large)):
            while instance.passes < target:
                instance.complete(None, "")
        history = {short: small.history(), long: large.history()}
        for _ in range(measured):
            small.complete(samples, f"complete@{short}")
            large.complete(samples, f"complete@{long}")
        small.complete(None, "", again=False)
        large.complete(None, "", again=False)
    except LoopFailed as err:
        errors.add(str(err))
    except (OSError, http.client.HTTPException) as err:
        errors.add(f"loop: transport error {type(err).__name__}: {err}")
    finally:
        api.close()
    return LoopResult(stack.kind, short, long, samples, history, errors)
