"""What a request came to: the one outcome every page, list, filter, export and message shows.

An instance's *status* says where the engine is (running, completed, cancelled, error); its *outcome*
says what the process decided: approved, rejected, cancelled or failed, and a neutral "completed" only
when a finished process carries no decision at all. `outcome_of` decides it from plain facts gathered
when the instance stops running (engine.runtime.steps stores it in `process_instances.outcome`), so
lists and filters are one query and no screen re-derives it.

It is meant for anyone's BPMN, not only the shipped workflows. In order, the first that speaks wins:

1. an end event that declares its outcome (`pmoflow:outcome="rejected"` on a reached end event);
2. an administrator's cancellation (status cancelled) is "cancelled"; an error end event the process
   reached (caught nowhere: the instance stopped with that incident) is "failed";
3. the process's own `outcome` variable when it holds an approve/reject-like value;
4. the reached end event's name ("Approved", "Vendor rejected", "Declined", "Not approved", ...);
5. the decision of the last deciding user task (its form's `...decision` field), then the `decision`
   variable, then a boolean `approved` variable;
6. otherwise "completed".

A terminate end event ends a process normally (the modeller's choice of how), so it counts like any
other end event; "cancelled" is kept for an instance someone cancelled.

No I/O here: `decided` (the past tense of a decision value: approve -> approved) and `label` are what
the path, the bell and the messages print, so "bob rejectd" cannot come back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

APPROVED, REJECTED, CANCELLED, FAILED, COMPLETED = "approved", "rejected", "cancelled", "failed", "completed"
OUTCOMES = (APPROVED, REJECTED, CANCELLED, FAILED, COMPLETED)
LABELS = {
    APPROVED: "Approved",
    REJECTED: "Rejected",
    CANCELLED: "Cancelled",
    FAILED: "Failed",
    COMPLETED: "Completed",
}
# The sentence a requester reads ("Your request ... was rejected by bob").
VERBS = {
    APPROVED: "was approved",
    REJECTED: "was rejected",
    CANCELLED: "was cancelled",
    FAILED: "failed",
    COMPLETED: "is completed",
}

# Words that mean an outcome, in a decision value or an end event's name (lower case, one word each).
_WORDS: dict[str, frozenset[str]] = {
    CANCELLED: frozenset(
        {"cancel", "cancelled", "canceled", "cancellation", "withdraw", "withdrawn", "abort", "aborted", "revoked"}
    ),
    FAILED: frozenset({"fail", "failed", "failure", "error", "errored", "crashed"}),
    REJECTED: frozenset(
        {
            "reject",
            "rejected",
            "rejection",
            "decline",
            "declined",
            "deny",
            "denied",
            "refuse",
            "refused",
            "disapprove",
            "disapproved",
            "unapproved",
            "veto",
            "vetoed",
        }
    ),
    APPROVED: frozenset(
        {"approve", "approved", "accept", "accepted", "grant", "granted", "agree", "agreed", "authorised", "authorized"}
    ),
}
# A whole value that is a decision only when it is all there is ("yes" as a decision, not "Yes, but..." as a name).
_WHOLE = {"yes": APPROVED, "y": APPROVED, "ok": APPROVED, "go": APPROVED, "no": REJECTED, "n": REJECTED}
_NEGATIONS = frozenset({"not", "no", "never"})
_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

# The variables a process may keep its decision in (read in this order, after the `outcome` variable).
DECISION_VARIABLES = ("decision",)


@dataclass(frozen=True)
class EndReached:
    """An end event of the instance's own process that a step reached."""

    element_id: str
    name: str | None = None
    declared: str | None = None  # pmoflow:outcome on the end event
    kind: str | None = None  # "error", "terminate", "cancel", ... (its event definition), None for a plain end


def _words(text: str) -> list[str]:
    return [w for w in _SPLIT.split(_CAMEL.sub(" ", text).lower()) if w]


def classify(value: object, whole_words: bool = True) -> str | None:
    """The outcome a decision value or an end event's name means, or None if it says none.

    True/False are approved/rejected; "approve", "Vendor rejected", "Declined", "send_back" (None),
    "Not approved" (rejected). `whole_words` also reads a bare yes/no/ok as a decision (not for names)."""
    if isinstance(value, bool):
        return APPROVED if value else REJECTED
    if not isinstance(value, str) or not value.strip():
        return None
    words = _words(value)
    if whole_words and len(words) == 1 and words[0] in _WHOLE:
        return _WHOLE[words[0]]
    for outcome in (CANCELLED, FAILED, REJECTED):
        if any(w in _WORDS[outcome] for w in words):
            return outcome
    for i, word in enumerate(words):
        if word in _WORDS[APPROVED]:
            return REJECTED if any(w in _NEGATIONS for w in words[:i]) else APPROVED
    return None


def decision_in(data: Mapping[str, Any] | None) -> Any:
    """The decision a form submission carries: the value of its `...decision` field (approve, reject, ...), or None."""
    for key, value in (data or {}).items():
        if isinstance(key, str) and key.lower().endswith("decision") and value not in (None, ""):
            return value
    return None


def outcome_of(
    status: str,
    ends: Sequence[EndReached] = (),
    variables: Mapping[str, Any] | None = None,
    decisions: Callable[[], Iterable[Any]] | None = None,
    failed_at_end: bool = False,
) -> str | None:
    """The outcome of an instance in `status`, or None while it is not decided (running, or stopped by an
    incident other than an uncaught error end event).

    `ends` are the end events of its own process it reached, in order; `decisions` gives the decision
    values of its completed user tasks, newest first (called only if nothing before it spoke);
    `failed_at_end` says the instance stopped on an error end event nothing caught."""
    declared = next((e.declared for e in reversed(ends) if e.declared in OUTCOMES), None)
    if declared is not None:
        return declared
    if status == CANCELLED:
        return CANCELLED
    if status == "error":
        return FAILED if failed_at_end else None
    if status != COMPLETED:
        return None
    if any(e.kind == "error" for e in ends):
        return FAILED
    values = variables or {}
    spoken = classify(values.get("outcome"))
    if spoken is not None:
        return spoken
    for end in reversed(ends):
        named = classify(end.name or "", whole_words=False)
        if named is not None:
            return named
    for value in decisions() if decisions is not None else ():
        if (found := classify(value)) is not None:
            return found
    for key in DECISION_VARIABLES:
        if (found := classify(values.get(key))) is not None:
            return found
    approved = values.get("approved")
    if isinstance(approved, bool):
        return APPROVED if approved else REJECTED
    return COMPLETED


def label(outcome: str | None, status: str | None = None) -> str:
    """How an outcome reads on a page ("Rejected"); without one, how the status reads ("In progress")."""
    if outcome in LABELS:
        return LABELS[outcome]
    return STATUS_LABELS.get(status or "", (status or "").replace("_", " ").capitalize())


STATUS_LABELS = {
    "running": "In progress",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "error": "Needs attention",
}


def sentence(outcome: str | None, status: str, actor: str | None = None) -> str:
    """What happened to a finished request, as a verb phrase: "was rejected by bob", "is completed",
    "was cancelled by the system"."""
    verb = VERBS.get(outcome or "", VERBS[COMPLETED] if status == COMPLETED else f"is {status}")
    if outcome in (APPROVED, REJECTED, CANCELLED) and actor:
        return f"{verb} by {actor}"
    if outcome == CANCELLED:
        return f"{verb} by the system"
    return verb


_PAST = {
    "approve": "approved",
    "reject": "rejected",
    "accept": "accepted",
    "decline": "declined",
    "deny": "denied",
    "refuse": "refused",
    "cancel": "cancelled",
    "withdraw": "withdrew",
    "escalate": "escalated",
    "defer": "deferred",
    "return": "returned",
    "confirm": "confirmed",
    "agree": "agreed",
    "grant": "granted",
    "veto": "vetoed",
    "sign": "signed",
    "review": "reviewed",
    "complete": "completed",
    "close": "closed",
    "submit": "submitted",
    "pass": "passed",
    "fail": "failed",
    "yes": "said yes",
    "no": "said no",
}


def decided(value: Any) -> str:
    """A decision value as a person reads it after a name: approve -> "approved", reject -> "rejected",
    "approved" stays, True -> "approved", "send_back" -> "decided “send back”"."""
    if isinstance(value, bool):
        return APPROVED if value else REJECTED
    text = " ".join(_words(str(value))) if value is not None else ""
    if not text:
        return "decided"
    if text in _PAST:
        return _PAST[text]
    if text in _PAST.values() or (" " not in text and text.endswith("ed")):
        return text
    return f"decided “{text}”"
