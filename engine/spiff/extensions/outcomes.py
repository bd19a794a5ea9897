"""What an end event says the process came to: `pmoflow:outcome` (engine.core.outcomes).

    <bpmn:endEvent id="turned_down" name="Turned down" pmoflow:outcome="rejected"/>

One of approved, rejected, cancelled, failed, completed. Without it the engine reads the outcome from the
process's decision and the end event's name (engine.core.outcomes.outcome_of); the attribute is for an end
whose name says nothing ("Done") or says it in words the engine does not know.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from engine.core.errors import Problem
from engine.core.outcomes import OUTCOMES
from engine.spiff.namespaces import BPMN_NS, PMOFLOW_NS

ATTRIBUTE = f"{{{PMOFLOW_NS}}}outcome"


def end_outcomes(process: etree._Element) -> dict[str, str]:
    """End event id -> the outcome it declares, for the end events of a process (sub-processes included)."""
    found = {}
    for event in process.iter(f"{{{BPMN_NS}}}endEvent"):
        value = (event.get(ATTRIBUTE) or "").strip().lower()
        if value in OUTCOMES and event.get("id"):
            found[str(event.get("id"))] = value
    return found


def outcome_problems(node: etree._Element, filename: str) -> list[Problem]:
    """A `pmoflow:outcome` that is not one of the outcomes, or not on an end event."""
    value = node.get(ATTRIBUTE)
    if value is None:
        return []
    where = (filename, node.get("id"), node.sourceline)
    if etree.QName(node).localname != "endEvent":
        return [Problem("pmoflow:outcome belongs on an end event", *where, "bad_outcome")]
    if value.strip().lower() not in OUTCOMES:
        return [Problem(f"pmoflow:outcome {value!r} is not one of {', '.join(OUTCOMES)}", *where, "bad_outcome")]
    return []


def end_kind(definition: Any) -> str | None:
    """An end event's kind from its event definition: error, terminate, cancel, escalation, message,
    signal; None for a plain end."""
    kind = type(definition).__name__.removesuffix("EventDefinition").lower()
    return None if kind in ("", "none") else kind
