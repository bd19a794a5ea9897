"""The condition builder writes sandbox expressions and reads them back."""

from __future__ import annotations

import pytest

from designer.conditions import NotReadable, build, parse
from engine.core.errors import InvalidInput
from engine.spiff.expressions.sandbox import SandboxedEnvironment

ROUND_TRIPS = [
    ({"all": [{"var": "budget", "op": ">=", "value": 100000}]}, "budget >= 100000"),
    ({"all": [{"var": "decision", "op": "==", "value": "approve"}]}, "decision == 'approve'"),
    ({"all": [{"var": "amount", "op": "<", "value": -2.5}]}, "amount < -2.5"),
    ({"all": [{"var": "urgent", "op": "!=", "value": True}]}, "urgent != True"),
    ({"all": [{"var": "owner", "op": "==", "value": None}]}, "owner == None"),
    (
        {"any": [{"var": "tier", "op": "<=", "value": 1}, {"var": "tier", "op": ">", "value": 3}]},
        "tier <= 1 or tier > 3",
    ),
    ({"all": [{"var": "department", "op": "in", "value": ["Sales", "Finance"]}]}, "department in ['Sales', 'Finance']"),
    ({"all": [{"var": "department", "op": "not in", "value": ["HR"]}]}, "department not in ['HR']"),
    ({"all": [{"var": "tags", "op": "contains", "value": "security"}]}, "'security' in tags"),
    ({"all": [{"var": "tags", "op": "not contains", "value": "security"}]}, "'security' not in tags"),
    ({"all": [{"var": "comment", "op": "is empty"}]}, "comment in (None, '', [])"),
    ({"all": [{"var": "comment", "op": "is not empty"}]}, "comment not in (None, '', [])"),
    (
        {
            "all": [
                {"var": "budget", "op": ">", "value": 5},
                {
                    "any": [
                        {"var": "risk", "op": "==", "value": "high"},
                        {"var": "new_vendor", "op": "==", "value": True},
                    ]
                },
            ]
        },
        "budget > 5 and (risk == 'high' or new_vendor == True)",
    ),
    ({"all": [{"var": "note", "op": "==", "value": 'it\'s "quoted"'}]}, "note == 'it\\'s \"quoted\"'"),
]


@pytest.mark.parametrize(("condition", "expression"), ROUND_TRIPS)
def test_build_writes_the_expression_and_parse_reads_it_back(condition, expression):
    assert build(condition) == expression
    assert parse(expression) == condition


VARIABLES = {
    "budget": 150000,
    "decision": "approve",
    "amount": -3,
    "urgent": False,
    "owner": None,
    "tier": 4,
    "department": "Sales",
    "tags": ["security", "cloud"],
    "comment": "",
    "risk": "low",
    "new_vendor": True,
    "note": 'it\'s "quoted"',
}


@pytest.mark.parametrize(("condition", "expression"), ROUND_TRIPS)
def test_built_expressions_run_in_the_sandbox(condition, expression):
    result = SandboxedEnvironment().evaluate(build(condition), dict(VARIABLES))
    assert isinstance(result, bool)


def test_built_expressions_mean_what_the_clauses_say():
    env = SandboxedEnvironment()

    def holds(condition, **variables):
        return env.evaluate(build(condition), variables)

    big = {"all": [{"var": "budget", "op": ">=", "value": 100000}, {"var": "risk", "op": "in", "value": ["high"]}]}
    assert holds(big, budget=100000, risk="high") is True
    assert holds(big, budget=99999, risk="high") is False
    empty = {"any": [{"var": "comment", "op": "is empty"}]}
    assert [holds(empty, comment=v) for v in (None, "", [], "x", 0)] == [True, True, True, False, False]
    contains = {"all": [{"var": "tags", "op": "contains", "value": "cloud"}]}
    assert holds(contains, tags=["cloud"]) and not holds(contains, tags=["onprem"])


@pytest.mark.parametrize(
    "expression",
    [
        "100000 <= budget",  # the value first: read as budget >= 100000
    ],
)
def test_parse_accepts_equivalent_spellings(expression):
    assert parse(expression) == {"all": [{"var": "budget", "op": ">=", "value": 100000}]}


@pytest.mark.parametrize(
    "expression",
    [
        "budget * 2 > 10",  # arithmetic
        "budget > limit",  # two variables
        "1 < budget < 10",  # chained
        "not approved",  # no comparison
        "len(tags) > 2",  # a call
        "budget >",  # not Python
        "",  # empty
        "decision in 'approve'",  # 'in' needs a list
        "x in [[1]]",  # nested lists
        "_secret == 1",  # private names
    ],
)
def test_parse_refuses_what_it_cannot_show_as_clauses(expression):
    with pytest.raises(NotReadable):
        parse(expression)


@pytest.mark.parametrize(
    ("condition", "field"),
    [
        ({"all": []}, "condition.all"),
        ({"both": [{"var": "a", "op": "==", "value": 1}]}, "condition"),
        ({"all": [{"var": "a b", "op": "==", "value": 1}]}, "condition.all[0].var"),
        ({"all": [{"var": "import", "op": "==", "value": 1}]}, "condition.all[0].var"),
        ({"all": [{"var": "_x", "op": "==", "value": 1}]}, "condition.all[0].var"),
        ({"all": [{"var": "a", "op": "~", "value": 1}]}, "condition.all[0].op"),
        ({"all": [{"var": "a", "op": "in", "value": 1}]}, "condition.all[0].value"),
        ({"all": [{"var": "a", "op": "==", "value": {"x": 1}}]}, "condition.all[0].value"),
        ({"all": [{"var": "a", "op": "==", "value": float("nan")}]}, "condition.all[0].value"),
        ({"any": [{"var": "a", "op": "==", "value": 1}, "a == 1"]}, "condition.any[1]"),
    ],
)
def test_build_refuses_bad_clauses_naming_the_field(condition, field):
    with pytest.raises(InvalidInput) as err:
        build(condition)
    assert field in err.value.details["fields"]
