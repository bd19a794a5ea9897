"""engine.core.outcomes: what a request came to, from plain facts (no database)."""

from __future__ import annotations

import pytest

from engine.core import outcomes
from engine.core.outcomes import EndReached, classify, decided, outcome_of


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("approve", "approved"),
        ("Approved", "approved"),
        ("reject", "rejected"),
        ("REJECTED", "rejected"),
        ("declined", "rejected"),
        ("Vendor rejected", "rejected"),
        ("Not approved", "rejected"),
        ("notApproved", "rejected"),
        ("request_denied", "rejected"),
        ("Withdrawn by requester", "cancelled"),
        ("Payment failed", "failed"),
        ("yes", "approved"),
        ("no", "rejected"),
        (True, "approved"),
        (False, "rejected"),
        ("Project onboarded", None),
        ("Review closed", None),
        ("send_back", None),
        ("", None),
        (None, None),
        (3, None),
    ],
)
def test_a_value_or_a_name_means_an_outcome_or_none(value, expected):
    assert classify(value) == expected


def test_yes_and_no_count_only_as_a_whole_decision_not_inside_a_name():
    assert classify("No", whole_words=False) is None
    assert classify("No budget left", whole_words=False) is None
    assert classify("no") == "rejected"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("approve", "approved"),
        ("reject", "rejected"),
        ("approved", "approved"),
        ("Reject", "rejected"),
        ("escalate", "escalated"),
        (True, "approved"),
        ("send_back", "decided “send back”"),
        ("", "decided"),
    ],
)
def test_a_decision_reads_as_a_verb(value, expected):
    assert decided(value) == expected
    assert not decided(value).endswith("dd") and "rejectd" not in decided(value)


def test_a_declared_outcome_on_the_end_event_wins():
    end = EndReached("done", "Done", declared="rejected")
    assert outcome_of("completed", [end], {"outcome": "approved"}) == "rejected"
    # even on an end named the other way
    assert outcome_of("completed", [EndReached("e", "Approved", declared="failed")]) == "failed"


def test_the_outcome_variable_then_the_end_events_name():
    assert outcome_of("completed", [EndReached("e", "Vendor approved")], {"outcome": "rejected"}) == "rejected"
    assert outcome_of("completed", [EndReached("e", "Vendor approved")], {"outcome": "n/a"}) == "approved"
    assert outcome_of("completed", [EndReached("e", "Declined")]) == "rejected"
    # the last end reached that says something (a reminder path ended before it)
    ends = [EndReached("r", "Reminder sent"), EndReached("e", "Request rejected")]
    assert outcome_of("completed", ends) == "rejected"


def test_then_the_last_deciding_task_then_the_decision_variable():
    asked: list[bool] = []

    def decisions():
        asked.append(True)
        return [None, "reject", "approve"]  # newest first: a task without a decision, then the last decision

    assert outcome_of("completed", [EndReached("end")], {"decision": "approve"}, decisions) == "rejected"
    assert outcome_of("completed", [EndReached("end")], {"decision": "approve"}, lambda: []) == "approved"
    assert outcome_of("completed", [], {"approved": False}) == "rejected"
    assert asked == [True]


def test_the_decisions_are_not_read_when_something_before_them_spoke():
    def decisions():
        raise AssertionError("not needed")

    assert outcome_of("completed", [EndReached("e", "Approved")], {}, decisions) == "approved"


def test_no_decision_at_all_is_a_neutral_completion():
    assert outcome_of("completed", [EndReached("end", "Project onboarded")], {"title": "x"}, lambda: [None]) == (
        "completed"
    )


def test_cancelled_failed_and_undecided():
    assert outcome_of("cancelled", [], {"outcome": "approved"}) == "cancelled"
    assert outcome_of("error", [], {}, failed_at_end=True) == "failed"
    assert outcome_of("error", [], {"outcome": "approved"}) is None  # an incident: not decided yet
    assert outcome_of("running", [EndReached("e", "Approved")]) is None
    assert outcome_of("completed", [EndReached("e", "Stopped", kind="error")]) == "failed"
    # a terminate end ends normally: its name or the decision says what it came to
    assert outcome_of("completed", [EndReached("e", "Rejected", kind="terminate")]) == "rejected"
    assert outcome_of("completed", [EndReached("e", "Stop", kind="terminate")]) == "completed"


def test_labels_and_sentences():
    assert outcomes.label("rejected") == "Rejected"
    assert outcomes.label(None, "running") == "In progress"
    assert outcomes.label(None, "error") == "Needs attention"
    assert outcomes.sentence("rejected", "completed", "bob") == "was rejected by bob"
    assert outcomes.sentence("completed", "completed", "bob") == "is completed"
    assert outcomes.sentence("failed", "completed", "bob") == "failed"
    assert outcomes.sentence("cancelled", "cancelled", None) == "was cancelled by the system"
