"""Decision requirement graphs: several decisions per file, required decisions and inputs, literals."""

from __future__ import annotations

from .samples import dmn, input_data, literal, models, run, table

GRAPH = dmn(
    input_data("in_budget", "Project Budget"),
    input_data("in_strategic", "strategic"),
    table(
        "size",
        ["Project Budget"],
        ["size"],
        [(["< 50000"], ['"small"']), (["[50000..250000]"], ['"medium"']), (["> 250000"], ['"large"'])],
        requires_inputs=["in_budget"],
    ),
    literal(
        "priority_score",
        'if strategic then 10 else 0 + (if size = "large" then 5 else 1)',
        variable="score",
        requires=["size"],
        requires_inputs=["in_strategic"],
    ),
    table(
        "route",
        ["size", "score"],
        ["route", "board"],
        [(['"large"', ">= 10"], ['"board"', "true"]), (["-", "-"], ['"pmo"', "false"])],
        hit_policy="FIRST",
        requires=["size", "priority_score"],
    ),
)


def test_required_decisions_are_evaluated_first_and_feed_the_next():
    result = run(GRAPH, "route", **{"Project Budget": 900_000, "strategic": True})
    assert result.outputs == {"route": "board", "board": True}
    assert [t.decision for t in result.trace] == ["size", "priority_score", "route"]
    assert result.trace[0].outputs == {"size": "large"}
    assert result.trace[1].outputs == {"score": 10}
    assert [r.id for r in result.matched_rules] == ["route_rule1"]


def test_each_decision_is_stored_with_exactly_what_it_requires():
    found = models(GRAPH)
    assert [d.id for d in found["route"].decisions] == ["size", "priority_score", "route"]
    assert [d.id for d in found["size"].decisions] == ["size"]
    assert [i.name for i in found["priority_score"].input_data] == ["Project Budget", "strategic"]
    assert found["size"].content_hash() != found["route"].content_hash()


def test_a_middle_decision_can_be_evaluated_alone():
    result = run(GRAPH, "priority_score", **{"Project Budget": 10, "strategic": False})
    assert result.outputs == {"score": 1}
    assert result.trace[-1].kind == "literal"


def test_literal_expression_decisions():
    text = dmn(literal("fee", "decimal(budget * rate, 2)", variable="fee"))
    assert run(text, budget=1000, rate=0.0125).outputs == {"fee": 12.5}
    named = dmn(literal("greeting", '"Hello " + name', name="Greeting"))
    assert run(named, name="Ada").outputs == {"Greeting": "Hello Ada"}
    assert run(text, budget=1000, rate=0.5).trace[-1].inputs == {"budget": 1000, "rate": 0.5}


def test_a_required_decision_is_evaluated_once():
    text = dmn(literal("a", "x + 1"), literal("b", "a * 2", requires=["a"]), literal("c", "a + b", requires=["a", "b"]))
    result = run(text, "c", x=1)
    assert result.outputs == {"c": 6}
    assert [t.decision for t in result.trace] == ["a", "b", "c"]


def test_a_multi_output_required_decision_is_a_context_for_the_next():
    text = dmn(
        table("limits", ["x"], ["low", "high"], [(["-"], ["10", "20"])]),
        literal("check", "x between limits.low and limits.high", requires=["limits"]),
    )
    assert run(text, "check", x=15).outputs == {"check": True}


def test_input_data_typed_as_temporal_values_are_read_from_their_iso_text():
    text = dmn(
        input_data("due", type_ref="date"),
        input_data("span", type_ref="feel:dayTimeDuration"),
        literal("later", "due + span", requires_inputs=["due", "span"]),
    )
    assert run(text, due="2026-01-31", span="P2D").outputs == {"later": "2026-02-02"}
    bad = run(text, due="31.01.2026", span="P2D")
    assert bad.outputs == {"later": None}
    assert "input 'due': '31.01.2026' is not a date (YYYY-MM-DD); it was taken as null" in bad.trace[-1].warnings
