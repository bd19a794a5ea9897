"""Decision tables: every hit policy, aggregations, no match, defaults and required matches."""

from __future__ import annotations

import pytest

from engine.dmn.errors import DecisionError
from engine.dmn.feel import to_python

from .samples import dmn, run, table

SCORE_RULES = [(["< 10"], ['"low"']), (["< 20"], ['"medium"']), (["< 30"], ['"high"'])]


def ids(evaluation) -> list[str]:
    return [r.id for r in evaluation.matched_rules]


def test_unique_gives_the_one_matching_rule():
    result = run(dmn(table("d", ["score"], ["level"], [(["< 10"], ['"low"']), (["[10..20]"], ['"high"'])])), score=15)
    assert result.outputs == {"level": "high"} and ids(result) == ["d_rule2"]


def test_unique_with_two_matches_is_an_error_naming_the_rules():
    with pytest.raises(DecisionError) as info:
        run(dmn(table("d", ["score"], ["level"], SCORE_RULES)), score=5)
    assert "hit policy UNIQUE allows one matching rule, but rules 1 (d_rule1), 2 (d_rule2), 3 (d_rule3) match" in str(
        info.value
    )
    assert info.value.decision == "d"


@pytest.mark.parametrize("policy", ["UNIQUE", "FIRST", "ANY", "PRIORITY", "COLLECT", "RULE ORDER", "OUTPUT ORDER"])
def test_no_matching_rule_gives_null_outputs_never_nothing(policy):
    values = {"level": '"low","medium","high"'}
    result = run(
        dmn(
            table(
                "d",
                ["score"],
                ["level", "note"],
                [(["< 10"], ['"low"', '"x"'])],
                hit_policy=policy,
                output_values=values | {"note": '"x"'},
            )
        ),
        score=50,
    )
    assert result.outputs == {"level": None, "note": None} and result.matched_rules == ()


def test_first_takes_the_first_match_in_rule_order_and_stops():
    rules = [*SCORE_RULES, (["-"], ['1 / "boom"'])]  # the last rule would fail if it were evaluated
    result = run(dmn(table("d", ["score"], ["level"], rules, hit_policy="FIRST")), score=15)
    assert result.outputs == {"level": "medium"} and ids(result) == ["d_rule2"]


def test_priority_picks_by_the_order_of_output_values():
    rules = [(["> 0"], ['"low"']), (["> 10"], ['"high"']), (["> 5"], ['"medium"'])]
    text = dmn(
        table("d", ["score"], ["level"], rules, hit_policy="PRIORITY", output_values={"level": '"high","medium","low"'})
    )
    assert run(text, score=12).outputs == {"level": "high"}
    assert run(text, score=7).outputs == {"level": "medium"}
    assert ids(run(text, score=7)) == ["d_rule3"]


def test_priority_with_two_outputs_orders_by_the_first_then_the_second():
    rules = [(["-"], ['"b"', '"y"']), (["-"], ['"a"', '"z"']), (["-"], ['"a"', '"y"'])]
    text = dmn(
        table("d", ["x"], ["p", "q"], rules, hit_policy="PRIORITY", output_values={"p": '"a","b"', "q": '"y","z"'})
    )
    assert run(text, x=1).outputs == {"p": "a", "q": "y"}


def test_any_accepts_matches_with_equal_outputs():
    rules = [(["> 0"], ['"yes"']), (["> 5"], ['"yes"'])]
    assert run(dmn(table("d", ["x"], ["ok"], rules, hit_policy="ANY")), x=7).outputs == {"ok": "yes"}


def test_any_with_different_outputs_is_an_error():
    rules = [(["> 0"], ['"yes"']), (["> 5"], ['"no"'])]
    with pytest.raises(DecisionError) as info:
        run(dmn(table("d", ["x"], ["ok"], rules, hit_policy="ANY")), x=7)
    assert "hit policy ANY needs equal outputs, but rules 1 and 2 differ" in str(info.value)


def test_collect_gives_lists_in_rule_order():
    rules = [(["> 0"], ['"a"', "1"]), (["> 100"], ['"b"', "2"]), (["> 5"], ['"c"', "3"])]
    result = run(dmn(table("d", ["x"], ["tag", "n"], rules, hit_policy="COLLECT")), x=7)
    assert result.outputs == {"d": [{"tag": "a", "n": 1}, {"tag": "c", "n": 3}]} and ids(result) == [
        "d_rule1",
        "d_rule3",
    ]
    assert [{k: to_python(v) for k, v in row.items()} for row in result.value] == result.outputs["d"]


@pytest.mark.parametrize(("aggregation", "expected"), [("SUM", 60), ("MIN", 10), ("MAX", 30), ("COUNT", 3)])
def test_collect_with_aggregation(aggregation, expected):
    rules = [(["> 0"], ["10"]), (["> 1"], ["30"]), (["> 2"], ["20"]), (["> 100"], ["99"])]
    result = run(dmn(table("d", ["x"], ["points"], rules, hit_policy="COLLECT", aggregation=aggregation)), x=5)
    assert result.outputs == {"points": expected}
    assert len(result.matched_rules) == 3


def test_collect_count_of_nothing_is_zero_and_sum_of_nothing_is_null():
    rules = [(["> 100"], ["10"])]
    for aggregation, nothing in (("COUNT", 0), ("SUM", None), ("MAX", None)):
        text = dmn(table("d", ["x"], ["n"], rules, hit_policy="COLLECT", aggregation=aggregation))
        assert run(text, x=5).outputs == {"n": nothing}


def test_collect_sum_of_text_is_an_error():
    with pytest.raises(DecisionError) as info:
        run(
            dmn(table("d", ["x"], ["n"], [(["-"], ['"a"']), (["-"], ["1"])], hit_policy="COLLECT", aggregation="SUM")),
            x=1,
        )
    assert "SUM of the outputs" in str(info.value)


def test_rule_order_and_output_order():
    rules = [(["> 0"], ['"low"']), (["> 5"], ['"high"']), (["> 3"], ['"medium"'])]
    values = {"level": '"high","medium","low"'}
    rule_order = run(dmn(table("d", ["x"], ["level"], rules, hit_policy="RULE ORDER")), x=7)
    assert rule_order.outputs == {"level": ["low", "high", "medium"]}
    output_order = run(dmn(table("d", ["x"], ["level"], rules, hit_policy="OUTPUT ORDER", output_values=values)), x=7)
    assert output_order.outputs == {"level": ["high", "medium", "low"]}
    assert ids(output_order) == ["d_rule2", "d_rule3", "d_rule1"]


def test_priority_and_output_order_use_the_outputs_that_list_values_and_give_lists_of_contexts():
    rules = [(["> 0"], ['"low"', "1"]), (["> 5"], ['"high"', "2"]), (["> 3"], ['"medium"', "3"])]
    values = {"level": '"high","medium","low"'}  # `rate` lists none: it does not order
    priority = run(dmn(table("d", ["x"], ["level", "rate"], rules, hit_policy="PRIORITY", output_values=values)), x=7)
    assert priority.outputs == {"level": "high", "rate": 2}
    ordered = run(
        dmn(table("d", ["x"], ["level", "rate"], rules, hit_policy="OUTPUT ORDER", output_values=values)), x=4
    )
    assert ordered.outputs == {"d": [{"level": "medium", "rate": 3}, {"level": "low", "rate": 1}]}


def test_default_output_entries_apply_when_nothing_matches():
    text = dmn(table("d", ["x"], ["level", "note"], [(["> 5"], ['"high"', '"n"'])], defaults={"level": '"unknown"'}))
    assert run(text, x=1).outputs == {"level": "unknown", "note": None}
    assert run(text, x=9).outputs == {"level": "high", "note": "n"}


def test_a_table_may_require_a_match():
    text = dmn(table("d", ["x"], ["level"], [(["> 5"], ['"high"'])], table_attrs=' pmoflow:requireMatch="true"'))
    assert run(text, x=9).outputs == {"level": "high"}
    with pytest.raises(DecisionError) as info:
        run(text, x=1)
    assert "no rule matches, and this table requires a match" in str(info.value)


def test_several_inputs_must_all_match():
    rules = [(['"normal"', '"high"'], ['"high"']), (['"normal"', "-"], ['"medium"'])]
    text = dmn(table("risk", ["change_type", "impact"], ["risk"], rules, hit_policy="FIRST"))
    assert run(text, change_type="normal", impact="high").outputs == {"risk": "high"}
    assert run(text, change_type="normal", impact="low").outputs == {"risk": "medium"}
    assert run(text, change_type="normal").outputs == {"risk": "medium"}
    assert run(text, change_type="other", impact="high").outputs == {"risk": None}


def test_input_and_output_expressions_are_feel():
    rules = [(["> 1000"], ["budget * 0.1", 'upper case(dept) + "-" + string(count(items))'])]
    text = dmn(table("d", ["budget * 2"], ["fee", "code"], rules))
    result = run(text, budget=600, dept="it", items=[1, 2])
    assert result.outputs == {"fee": 60, "code": "IT-2"}
    assert result.trace[-1].inputs == {"budget * 2": 1200}


def test_input_values_are_checked():
    text = dmn(table("d", ["kind"], ["ok"], [(["-"], ["true"])], input_values={"kind": '"a","b"'}))
    assert run(text, kind="a").outputs == {"ok": True}
    with pytest.raises(DecisionError) as info:
        run(text, kind="z")
    assert "'z' is not one of the allowed values" in str(info.value)


def test_typed_date_columns_read_iso_text():
    rules = [(['< date("2026-07-01")'], ['"first half"']), (["-"], ['"second half"'])]
    text = dmn(table("d", ["due"], ["half"], rules, hit_policy="FIRST", type_refs={"due": "date"}))
    assert run(text, due="2026-03-01").outputs == {"half": "first half"}
    assert run(text, due="2026-09-01").outputs == {"half": "second half"}


def test_outputs_are_plain_json_values():
    rules = [(["-"], ['date("2026-01-31") + duration("P1M")', 'duration("P2D")', "1.50", "[1, 2.5]", "{a: 1}"])]
    result = run(dmn(table("d", ["x"], ["d", "p", "n", "l", "c"], rules)), x=1)
    assert result.outputs == {"d": "2026-02-28", "p": "P2D", "n": 1.5, "l": [1, 2.5], "c": {"a": 1}}
