"""Where the tokens of an instance are: counted from its saved state, without restoring the workflow."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from SpiffWorkflow.util.task import TaskState

ACTIVE = TaskState.WAITING | TaskState.READY | TaskState.STARTED | TaskState.ERROR


def active_tokens(state: str) -> Counter[str]:
    """Element id -> number of live (waiting, ready, started or failed) tasks, sub-processes included."""
    counts: Counter[str] = Counter()
    try:
        dct = json.loads(state)
    except (TypeError, ValueError):
        return counts
    _count(dct, counts)
    for sub in (dct.get("subprocesses") or {}).values():
        _count(sub, counts)
    return counts


def _count(workflow: dict[str, Any], counts: Counter[str]) -> None:
    for task in (workflow.get("tasks") or {}).values():
        spec = task.get("task_spec")
        if isinstance(spec, str) and isinstance(task.get("state"), int) and task["state"] & ACTIVE:
            counts[spec] += 1
