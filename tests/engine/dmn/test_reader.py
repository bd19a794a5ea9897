"""Reading DMN files: every problem at once, each naming decision, rule, column, file, element and line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.dmn.errors import DecisionError

from .samples import dmn, input_data, literal, problems, read, run, table


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


FEEL = "https://www.omg.org/spec/DMN/20191111/FEEL/"


def test_an_unparseable_cell_names_decision_rule_column_and_text():
    rules = [(["< 50000"], ["1"]), (["50000 <= ? <= 250000"], ["2"])]
    text = dmn(table("approval_tier", ["budget"], ["tier"], rules), language=FEEL)
    [problem] = problems(text)
    assert problem.code == "bad_expression"
    assert problem.file == "t.dmn" and problem.element_id == "approval_tier_r2_i0"
    assert problem.line == line_of(text, 'id="approval_tier_r2_i0"')
    assert problem.message.startswith(
        "decision 'approval_tier', rule 2 (approval_tier_rule2), input 'budget': cannot use '50000 <= ? <= 250000': "
        "comparisons cannot be chained"
    )


def test_every_bad_cell_is_reported_at_once():
    rules = [(["[1..", "-"], ['"a"']), (["-", "< 5"], ["unknown(1) +"])]
    text = dmn(table("d", ["x", "y"], ["out"], rules), table("e", ["z"], ["o"], [(['"x'], ["1"])]))
    found = problems(text)
    assert [(p.element_id, p.code) for p in found] == [
        ("d_r1_i0", "bad_expression"),
        ("d_r2_o0", "bad_expression"),
        ("e_r1_i0", "bad_expression"),
    ]
    assert "rule 2 (d_rule2), output 'out': cannot use 'unknown(1) +': expected a value" in found[1].message
    assert "input 'z'" in found[2].message and "not closed" in found[2].message


def test_bad_input_and_output_expressions_name_their_column():
    text = dmn(table("d", ["budget +"], ["o"], [(["-"], ["1"])]))
    [problem] = problems(text)
    assert problem.element_id == "d_ie0" and "input 'budget +'" in problem.message


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"hit_policy": "SOMETIMES"}, "unknown hit policy 'SOMETIMES'"),
        ({"aggregation": "SUM"}, "aggregation 'SUM' needs hit policy COLLECT"),
        ({"hit_policy": "PRIORITY"}, "orders by output values, but output 'o' lists none"),
    ],
)
def test_table_settings_are_checked(attrs, message):
    [problem] = problems(dmn(table("d", ["x"], ["o"], [(["-"], ["1"])], **attrs)))
    assert message in problem.message and problem.code == "invalid_decision"


def test_rules_must_fill_every_column():
    [problem] = problems(dmn(table("d", ["x", "y"], ["o"], [(["-"], ["1"])])))
    assert (
        problem.element_id == "d_rule1"
        and "has 1 input and 1 output entries; the table has 2 inputs" in problem.message
    )


def test_output_names_must_differ():
    text = dmn(table("d", ["x"], ["o", "o"], [(["-"], ["1", "2"])]))
    assert "output name 'o' is used twice" in problems(text)[0].message


def test_unsupported_language_java_functions_and_missing_knowledge_are_reported():
    text = dmn(table("d", ["x"], ["o"], [(["-"], ["1"])]), language="javascript")
    assert "expression language 'javascript' is not supported" in problems(text)[0].message
    java = dmn(
        '<decision id="c" name="c"><functionDefinition id="fd" kind="Java"><context id="ctx"/>'
        "</functionDefinition></decision>"
    )
    found = problems(java)[0]
    assert (found.element_id, found.code) == ("fd", "unsupported")
    assert "function definition 'fd' is of kind JAVA" in found.message
    bkm = dmn(
        '<decision id="k" name="k"><knowledgeRequirement id="kr"><requiredKnowledge href="#b"/>'
        '</knowledgeRequirement><literalExpression id="le"><text>1</text></literalExpression></decision>'
    )
    assert problems(bkm)[0].message == "required knowledge 'b' is not in this file or the files it imports"


def test_requirement_problems():
    missing = dmn(literal("a", "b + 1", requires=["b"], requires_inputs=["nope"]))
    assert sorted(p.message for p in problems(missing)) == [
        "required decision 'b' is not in this file or the files it imports",
        "required input data 'nope' is not in this file or the files it imports",
    ]
    cycle = dmn(literal("a", "b", requires=["b"]), literal("b", "a", requires=["a"]))
    assert {p.code for p in problems(cycle)} == {"decision_cycle"}
    assert "a -> b -> a" in problems(cycle)[0].message


def test_a_decision_test_without_expectations_is_reported():
    test = '<pmoflow:test id="t1" name="nothing"><pmoflow:input name="x">1</pmoflow:input></pmoflow:test>'
    text = dmn(table("d", ["x"], ["o"], [(["-"], ["1"])], tests=test))
    assert "expects nothing" in problems(text)[0].message


def test_input_data_and_the_dmn_1_1_namespace_are_read():
    old = dmn(
        table("d", ["x"], ["o"], [(["> 1"], ['"big"'])]), namespace="http://www.omg.org/spec/DMN/20151101/dmn.xsd"
    )
    assert run(old, x=5).outputs == {"o": "big"}
    graph = dmn(input_data("i1", "Applicant Age"), literal("d", "Applicant Age", requires_inputs=["i1"]))
    assert read(graph).problems == []


# ---------------------------------------------------------------- run-time errors


def test_a_type_error_in_an_input_entry_names_the_cell():
    text = dmn(table("approval_tier", ["budget"], ["tier"], [(["< 50000"], ["1"]), (["-"], ["2"])], hit_policy="FIRST"))
    with pytest.raises(DecisionError) as info:
        run(text, budget="120000")
    error = info.value
    assert (error.decision, error.rule_id, error.rule_number, error.column, error.text) == (
        "approval_tier",
        "approval_tier_rule1",
        1,
        "input 'budget'",
        "< 50000",
    )
    assert str(error) == (
        "decision 'approval_tier', rule 1 (approval_tier_rule1), input 'budget' '< 50000': "
        'cannot compare string "120000" with number 50000'
    )
    assert error.details()["element_id"] == "approval_tier_r1_i0"


OVERFLOW = 'date("999999999-12-31") + x'  # past the years FEEL allows: an error that stops the evaluation


def test_an_error_in_an_output_entry_names_the_cell():
    with pytest.raises(DecisionError) as info:
        run(dmn(table("d", ["x"], ["o"], [(["-"], [OVERFLOW])])), x=timedelta(days=1))
    assert (info.value.rule_number, info.value.column, info.value.text) == (1, "output 'o'", OVERFLOW)


def test_an_error_in_an_input_expression_names_the_column():
    with pytest.raises(DecisionError) as info:
        run(dmn(table("d", [OVERFLOW], ["o"], [(["-"], ["1"])])), x=timedelta(days=1))
    assert info.value.column == f"input {OVERFLOW!r}" and info.value.rule_id is None


def test_an_error_in_a_literal_expression_names_it():
    with pytest.raises(DecisionError) as info:
        run(dmn(literal("total", OVERFLOW)), x=timedelta(days=1))
    assert info.value.column == "literal expression" and info.value.text == OVERFLOW


def test_arithmetic_on_values_that_do_not_combine_is_null_with_a_warning_in_the_trace():
    evaluation = run(dmn(literal("total", "price * qty")), price=2, qty="3")
    assert evaluation.outputs == {"total": None}
    assert evaluation.trace[-1].warnings == ('*: cannot multiply number 2 by string "3"; the result is null',)


def test_a_decision_without_an_id_takes_its_name_when_the_name_can_be_an_id():
    named = '<decision name="fn-null"><variable name="fn-null"/><literalExpression><text>1</text></literalExpression></decision>'
    assert run(dmn(named)).outputs == {"fn-null": 1}
    spaced = named.replace("fn-null", "fn null")
    [problem] = problems(dmn(spaced))
    assert problem.message == "decision without an id"
