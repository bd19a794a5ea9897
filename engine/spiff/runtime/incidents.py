"""What goes wrong in a step: the incident an instance gets (naming the model's element), or `StepFailed`
when no consistent state is left to keep."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.task import Task

from engine.spiff.model.structure import IMPLICIT_SPLIT


@dataclass(frozen=True)
class Incident:
    """A step's failure, kept on the instance until a retry: where (element, task), what, and its kind."""

    element_id: str | None
    task_id: str | None
    message: str
    kind: str

    def as_dict(self) -> dict[str, Any]:
        """The incident as plain JSON values."""
        return {"element_id": self.element_id, "task_id": self.task_id, "message": self.message, "kind": self.kind}


class StepFailed(Exception):
    """The step failed in a way that left no consistent state to keep; nothing may be saved."""


def model_element(task: Task) -> str | None:
    """The model's element id of a task: an implicit split (engine.spiff.model.structure) is its activity."""
    return (task.task_spec.bpmn_id or "").removesuffix(IMPLICIT_SPLIT) or None


def innermost_task(err: BaseException) -> Task | None:
    """The task SpiffWorkflow was working on where the error was raised: a run of one task updates
    its successors, and the fault belongs to the successor (`my_task` in SpiffWorkflow's frames)."""
    found = None
    tb = err.__traceback__
    while tb is not None:
        candidate = tb.tb_frame.f_locals.get("my_task")
        if isinstance(candidate, Task):
            found = candidate
        tb = tb.tb_next
    return found


def fault_message(task: Task, err: BaseException) -> str:
    """What went wrong, in the model's terms where we can tell (a multi-instance input that is missing)."""
    spec = task.task_spec
    collection = getattr(getattr(spec, "data_input", None), "bpmn_id", None)
    if isinstance(spec, MultiInstanceTask) and collection and collection not in task.data:
        return f"multi-instance input collection {collection!r} is not a variable of the instance"
    if isinstance(err, RecursionError):
        return "the model recursed too deeply (RecursionError)"
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def describe_error(err: Exception) -> str:
    """The message of an error SpiffWorkflow or the sandbox raised, with the inner error and the line."""
    # SpiffWorkflow raises its WorkflowTaskException inside `except` without keeping the error it wraps:
    # that one is the context (a time limit, a size refused: what the incident must say)
    inner = getattr(err, "exception", None) or err.__cause__ or err.__context__
    base = str(err.args[0]) if err.args else str(err)
    if inner is not None and str(inner) and str(inner) not in base:
        base = f"{base}: {type(inner).__name__}: {inner}"
    line = getattr(err, "line_number", None)
    return f"{base} (line {line})" if line else base
