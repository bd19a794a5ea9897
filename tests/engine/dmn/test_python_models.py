"""Models written for SpiffWorkflow (Python cells) keep working, evaluated in the sandbox."""

from __future__ import annotations

import pytest

from engine.dmn.errors import DecisionError

from .samples import dmn, models, problems, run, table

# approval-tier.dmn as shipped before decisions followed the standard: Python, no expressionLanguage
LEGACY_TIERS = dmn(
    table(
        "approval_tier",
        ["budget"],
        ["tier"],
        [
            (["< 50000"], ["1"]),
            (["50000 <= ? <= 250000"], ["2"]),
            (["> 250000"], ["3"]),
        ],
    )
)


@pytest.mark.parametrize(("budget", "tier"), [(10_000, 1), (50_000, 2), (250_000, 2), (250_001, 3)])
def test_a_spiffworkflow_model_without_a_language_is_read_as_python(budget, tier):
    assert models(LEGACY_TIERS)["approval_tier"].language() == "python"
    assert run(LEGACY_TIERS, budget=budget).outputs == {"tier": tier}


@pytest.mark.parametrize(
    ("entries", "outputs", "variables", "expected"),
    [
        (["'standard'"], ["'low'"], {"kind": "standard"}, "low"),  # single quotes
        (["in ['a', 'b']"], ["True"], {"kind": "b"}, True),  # Python membership, True
        (["-"], ["None"], {"kind": "x"}, None),
        (['?.startswith("st")'], ["len(kind)"], {"kind": "std"}, 3),
    ],
)
def test_python_only_syntax_selects_python(entries, outputs, variables, expected):
    text = dmn(table("d", ["kind"], ["out"], [(entries, outputs)]))
    assert models(text)["d"].language() == "python"
    assert run(text, **variables).outputs == {"out": expected}


def test_a_model_that_is_valid_feel_stays_feel():
    text = dmn(table("d", ["kind"], ["out"], [(['"standard"'], ['"low"']), (["-"], ['"high"'])], hit_policy="FIRST"))
    assert models(text)["d"].language() == "feel"


def test_a_declared_language_wins():
    text = dmn(table("d", ["kind"], ["out"], [(['"x"'], ["1 / 2"])]), language="python")
    assert models(text)["d"].language() == "python"
    assert run(text, kind="x").outputs == {"out": 0.5}
    feel = dmn(
        table("d", ["budget"], ["tier"], [(["50000 <= ? <= 250000"], ["2"])]),
        language="https://www.omg.org/spec/DMN/20191111/FEEL/",
    )
    assert problems(feel)[0].code == "bad_expression"


def test_the_language_may_be_set_per_cell():
    text = dmn(
        table("d", ["kind"], ["out"], [(["?.upper() == 'X'"], ["1"])], entry_attrs=' expressionLanguage="python"')
    )
    assert models(text)["d"].language() == "mixed"
    assert run(text, kind="x").outputs == {"out": 1}


def test_python_decisions_follow_the_hit_policy():
    text = dmn(table("d", ["n"], ["out"], [(["> 1"], ["'a'"]), (["> 2"], ["'b'"])]))
    with pytest.raises(DecisionError) as info:
        run(text, n=5)
    assert "hit policy UNIQUE" in str(info.value)


def test_python_cells_are_checked_by_the_sandbox_at_deploy_time():
    text = dmn(table("d", ["n"], ["out"], [(["-"], ["__import__('os').system('id')"])]), language="python")
    [problem] = problems(text)
    assert problem.code == "bad_expression" and "rule 1 (d_rule1), output 'out'" in problem.message


def test_python_cells_run_in_the_sandbox():
    text = dmn(table("d", ["n"], ["out"], [(["-"], ["open('/etc/passwd').read()"])]), language="python")
    with pytest.raises(DecisionError) as info:
        run(text, n=1)
    assert "'open' is not available" in str(info.value) and "root:" not in str(info.value)
    escape = dmn(table("d", ["n"], ["out"], [(["-"], ["().__class__.__base__.__subclasses__()"])]), language="python")
    assert problems(escape)


def test_a_python_error_names_the_cell():
    text = dmn(table("d", ["n"], ["out"], [(["> 1"], ["n + 'x'"])]), language="python")
    with pytest.raises(DecisionError) as info:
        run(text, n=5)
    assert (info.value.rule_number, info.value.column) == (1, "output 'out'")
    assert "TypeError" in str(info.value)
