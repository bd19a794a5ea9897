"""Decision results mapped into a result variable as Camunda 7 and 8 do
(engine.spiff.extensions.decisions.map_result)."""

from __future__ import annotations

import pytest

from engine.dmn.errors import DecisionError
from engine.dmn.evaluate import Evaluation, MatchedRule
from engine.spiff.extensions.decisions import map_result

FIRST = {"id": "t", "hit_policy": "FIRST", "aggregation": None, "rules": []}
COLLECT = {"id": "t", "hit_policy": "COLLECT", "aggregation": None, "rules": []}
LITERAL = {"id": "l", "expression": {}}


def result(outputs: dict, matched: int) -> Evaluation:
    rules = tuple(MatchedRule("d", f"r{i}", i) for i in range(matched))
    return Evaluation("d", outputs, rules, ())


def test_single_hit_mappings():
    one = result({"risk": "low", "score": 3}, 1)
    assert map_result(one, FIRST, "resultList") == [{"risk": "low", "score": 3}]
    assert map_result(one, FIRST, None) == [{"risk": "low", "score": 3}]
    assert map_result(one, FIRST, "singleResult") == {"risk": "low", "score": 3}
    assert map_result(one, FIRST, "zeebe") == {"risk": "low", "score": 3}
    with pytest.raises(DecisionError, match="2 outputs"):
        map_result(one, FIRST, "singleEntry")
    assert map_result(result({"risk": "low"}, 1), FIRST, "singleEntry") == "low"
    assert map_result(result({"risk": "low"}, 1), FIRST, "zeebe") == "low"


def test_no_match_is_empty_or_none():
    none = result({"risk": None}, 0)
    assert map_result(none, FIRST, "resultList") == []
    assert map_result(none, FIRST, "singleEntry") is None
    assert map_result(none, FIRST, "singleResult") is None
    assert map_result(none, FIRST, "collectEntries") == []
    assert map_result(none, FIRST, "zeebe") is None


def test_multi_hit_mappings():
    many = result({"risk": ["low", "high"]}, 2)
    assert map_result(many, COLLECT, "resultList") == [{"risk": "low"}, {"risk": "high"}]
    assert map_result(many, COLLECT, "collectEntries") == ["low", "high"]
    assert map_result(many, COLLECT, "zeebe") == ["low", "high"]
    with pytest.raises(DecisionError, match="matched 2 rules"):
        map_result(many, COLLECT, "singleResult")


def test_multi_hit_mappings_with_several_outputs_take_the_standard_list_of_contexts():
    logic = {**COLLECT, "outputs": [{"name": "risk"}, {"name": "score"}]}
    many = result({"d": [{"risk": "low", "score": 1}, {"risk": "high", "score": 9}]}, 2)
    assert map_result(many, logic, "resultList") == [{"risk": "low", "score": 1}, {"risk": "high", "score": 9}]
    assert map_result(many, logic, "zeebe") == [{"risk": "low", "score": 1}, {"risk": "high", "score": 9}]


def test_literal_expression_decisions_always_have_their_one_result():
    assert map_result(result({"limit": 10}, 0), LITERAL, "singleEntry") == 10
    assert map_result(result({"limit": 10}, 0), LITERAL, "zeebe") == 10
