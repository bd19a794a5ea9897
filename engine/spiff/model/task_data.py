"""Task data in a saved state: every value converted, and data that looks like a converted value kept as data.

SpiffWorkflow's serializer marks a converted object by a `typename` key (`{"typename": "Decimal", "value":
"1.5"}`) and, when it restores a state, turns every dict with such a key back into an object. Two things
go wrong with task data that way, and this module is where both are handled:

- SpiffWorkflow 3.2's `TaskConverter` writes a task's data (and the difference from its parent's) without
  converting it, so a script that leaves a `date` or a `Decimal` in a variable made the state unsavable
  (a 500 on every step). `DataTaskConverter` converts them as the registry says.
- Variables come from outside (an API start, a form, a message, an external worker). A variable such as
  `{"typename": "Decimal", "value": "1e999999"}` was restored as a Decimal (whose `int()` is one minute-long C
  call) and `{"typename": "nothing"}` made every later load fail. `DataRegistry.convert` stores such a dict
  wrapped (`{"typename": "pmoflow.data", "items": {...}}`), which restores to the same dict; a dict with an
  unknown `typename` (saved before this wrapping) restores as a plain dict.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.bpmn.serializer.helpers.registry import DefaultRegistry

WRAPPED = "pmoflow.data"  # the typename of a data dict that has a `typename` key of its own


class DataRegistry(DefaultRegistry):
    """The default registry, keeping data dicts with a `typename` key as data (see the module)."""

    def __init__(self) -> None:
        super().__init__()
        self.convert_from_dict[WRAPPED] = self._unwrap

    def convert(self, obj: Any) -> Any:
        """`obj` as JSON-ready values; a dict with a `typename` key of its own is wrapped."""
        if type(obj) is dict and "typename" in obj:
            return {"typename": WRAPPED, "items": {k: self.convert(v) for k, v in self.clean(obj).items()}}
        return super().convert(obj)

    def restore(self, val: Any, **kwargs: Any) -> Any:
        """The value `convert` was given; a dict naming an unknown `typename` is restored as a plain dict."""
        if type(val) is dict and "typename" in val and val["typename"] not in self.convert_from_dict:
            return {k: self.restore(v, **kwargs) for k, v in val.items()}
        return super().restore(val, **kwargs)

    def _unwrap(self, dct: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {k: self.restore(v, **kwargs) for k, v in dct["items"].items()}


class DataTaskConverter(TaskConverter):
    """SpiffWorkflow's task converter, with the task's data (or its difference from its parent's) converted."""

    def to_dict(self, task: Any) -> dict[str, Any]:
        dct: dict[str, Any] = super().to_dict(task)
        if dct["data"]:
            dct["data"] = self.registry.convert(dct["data"])
        delta = dct["delta"]
        if delta and delta.get("updates"):
            delta["updates"] = self.registry.convert(delta["updates"])
        return dct
