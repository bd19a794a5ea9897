"""Variables nest and weigh within bounds wherever they come in, and after every script; on both databases."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine import bootstrap
from engine.core.errors import InvalidInput
from engine.monitoring import instances as monitoring
from engine.runtime import instances, messages, signals
from engine.spiff.runtime.variables import oversized
from engine.tasks import completion
from tests.bpmn_samples import linear, one_approval, script_task, user_task
from tests.engine.runtime.test_instances import deploy
from tests.factories import ADMIN, ALICE, BOT


def nested(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value


def test_the_walk_names_the_variable_and_never_recurses():
    assert oversized({"a": nested(32), "b": "x"}, 32, 1000) is None
    assert oversized({"a": 1, "b": nested(33)}, 32, 1000) == ("b", "nests deeper than 32 levels")
    assert oversized({"deep": nested(100_000)}, 32, 10**9) == ("deep", "nests deeper than 32 levels")
    cycle: list[object] = []
    cycle.append(cycle)
    assert oversized({"loop": cycle}, 32, 10**9) == ("loop", "nests deeper than 32 levels")
    shared = [[0] * 1000] * 30_000  # shared references: stops at the byte bound, not after 30 M items
    assert oversized({"a": 1, "big": shared}, 32, 100_000) == ("big", "makes the variables larger than 100,000 bytes")
    assert oversized({"n": 10**4000}, 32, 100) == ("n", "makes the variables larger than 100 bytes")
    assert oversized({"n": 10**5000}, 32, 10**6) == (
        "n",
        "holds an integer of more than 4,300 digits: a saved state cannot",
    )


def test_start_messages_signals_retry_and_edits_refuse_deep_variables(ctx):
    deploy(ctx, ("p.bpmn", one_approval()))
    deep = {"title": "x", "deep": {"a": nested(40)}}
    for call in (
        lambda: instances.start(ctx, BOT, "p1", variables=deep),
        lambda: messages.correlate(ctx, BOT, "m", business_key="k", variables=deep),
        lambda: signals.send(ctx, BOT, "s", deep),
    ):
        with pytest.raises(InvalidInput) as err:
            call()
        assert err.value.details["fields"] == {"variables.deep": "nests deeper than 32 levels"}
    view = instances.start(ctx, BOT, "p1", variables={"title": "ok", "fine": nested(30)})
    with pytest.raises(InvalidInput) as err:
        monitoring.edit_variables(ctx, ADMIN, view.id, {"deep": nested(50)}, [], "fix")
    assert "variables.deep" in err.value.details["fields"]
    with pytest.raises(InvalidInput):
        completion.complete(ctx, ALICE, view.open_tasks[0].id, {"comment": nested(64)})
    assert completion.complete(ctx, ALICE, view.open_tasks[0].id, {"comment": "fine"}).instance_status == "completed"


def test_the_bounds_are_configurable(settings, clock):
    small = bootstrap.context(replace(settings, variable_max_depth=3, variable_max_bytes=200), clock=clock)
    try:
        deploy(small, ("p.bpmn", one_approval()))
        with pytest.raises(InvalidInput) as err:
            instances.start(small, BOT, "p1", variables={"l": nested(4)})
        assert "3 levels" in err.value.message
        with pytest.raises(InvalidInput) as err:
            instances.start(small, BOT, "p1", variables={"text": "x" * 300})
        assert err.value.details["fields"] == {"variables.text": "makes the variables larger than 200 bytes"}
        assert instances.start(small, BOT, "p1", variables={"l": nested(3)}).status == "running"
    finally:
        small.db.dispose()


SCRIPT = "x = 1&#10;for i in range(400):&#10;    x = [x]&#10;deep = x"


def test_a_script_that_nests_too_deep_is_an_incident_and_leaves_the_data_as_before(ctx):
    deploy(ctx, ("p.bpmn", linear((script_task("build", SCRIPT), "build"), (user_task("review"), "review"))))
    view = instances.start(ctx, BOT, "p1", variables={"title": "t"})
    assert view.status == "error"
    assert view.error["element_id"] == "build"
    assert (
        "'build' set variable 'x'" in view.error["message"] and "nests deeper than 32 levels" in view.error["message"]
    )
    again = instances.get(ctx, ADMIN, view.id)  # the state saved loads again
    assert again.variables == {"title": "t"} and again.status == "error"
    retried = instances.retry(ctx, ADMIN, view.id, None)  # the script still does it: the same incident
    assert retried.status == "error" and retried.error["element_id"] == "build"


def test_form_data_is_bounded_before_validation(ctx):
    deploy(ctx, ("p.bpmn", one_approval()))
    view = instances.start(ctx, BOT, "p1", variables={"title": "t"})
    with pytest.raises(InvalidInput) as err:
        completion.complete(ctx, ALICE, view.open_tasks[0].id, {"notes": {"a": nested(40)}})
    assert err.value.details["fields"] == {"data.notes": "nests deeper than 32 levels"}
