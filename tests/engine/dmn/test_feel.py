"""FEEL expressions and unary tests: every construct, with its error cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from engine.dmn.feel import (
    EvalState,
    FeelError,
    FeelSyntaxError,
    compile_expression,
    compile_unary_tests,
    to_python,
)
from engine.dmn.feel.temporal import YearsMonths


def feel(text: str, names: frozenset[str] = frozenset(), **variables: object) -> object:
    """The value of a FEEL expression, as plain Python."""
    return to_python(compile_expression(text, names).evaluate(variables))


def raw(text: str, **variables: object) -> object:
    """The FEEL value itself (Decimal, date, ...)."""
    return compile_expression(text).evaluate(variables)


def passes(test: str, value: object, **variables: object) -> bool:
    return compile_unary_tests(test).matches(value, variables)


def syntax_error(text: str) -> FeelSyntaxError:
    with pytest.raises(FeelSyntaxError) as info:
        compile_expression(text)
    return info.value


def eval_error(text: str, **variables: object) -> FeelError:
    with pytest.raises(FeelError) as info:
        compile_expression(text).evaluate(variables)
    return info.value


def null_warning(text: str, **variables: object) -> str:
    """The warnings of an expression that is null because an operation could not work (the standard's null)."""
    state = EvalState()
    assert compile_expression(text).evaluate(variables, state) is None
    assert state.warnings
    return " | ".join(state.warnings)


# ---------------------------------------------------------------- literals


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("-7", -7),
        ("1.5", 1.5),
        (".5", 0.5),
        ('"text"', "text"),
        ('"say \\"hi\\""', 'say "hi"'),
        ('"a\\nb"', "a\nb"),
        ('"\\u00e9"', "é"),
        ("true", True),
        ("false", False),
        ("null", None),
        ("[1, 2, 3]", [1, 2, 3]),
        ("[]", []),
        ('{a: 1, "b c": "x"}', {"a": 1, "b c": "x"}),
        ("{}", {}),
        ("// comment\n 5", 5),
        ("/* block */ 6", 6),
    ],
)
def test_literals(text, value):
    assert feel(text) == value


def test_numbers_are_decimal():
    assert raw("0.1 + 0.2") == Decimal("0.3")
    assert feel("0.1 + 0.2 = 0.3") is True
    assert feel("1 / 3") == pytest.approx(0.3333333333)
    assert raw("10 / 4") == Decimal("2.5")


# ---------------------------------------------------------------- arithmetic and comparison


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("2 ** 3 ** 2", 64),
        ("-2 ** 2", 4),
        ("10 - 4 - 3", 3),
        ("7 / 2", 3.5),
        ("1 / 0", None),
        ("null + 1", None),
        ("5 * null", None),
        ('"ab" + "cd"', "abcd"),
        ("- (3)", -3),
        ("budget * 1.1", 110.00000000000001 if False else 110),
    ],
)
def test_arithmetic(text, value):
    assert feel(text, budget=100) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1 < 2", True),
        ("2 <= 2", True),
        ("3 > 4", False),
        ("4 >= 4", True),
        ("1 = 1.0", True),
        ("1 != 2", True),
        ('"apple" < "banana"', True),
        ('"B" < "a"', True),
        ('"a" = "a"', True),
        ("null = null", True),
        ("1 = null", False),
        ("null != 1", True),
        ("1 < null", None),
        ('1 = "1"', None),  # values of different types: null (DMN 1.4+), with a warning
        ("[1, 2] = [1, 2]", True),
        ("{a: 1} = {a: 1}", True),
        ("true = true", True),
    ],
)
def test_comparison(text, value):
    assert feel(text) == value


@pytest.mark.parametrize("text", ['"a" + 1', "true + 1", "[1] * 2"])
def test_arithmetic_on_wrong_types_is_null_with_a_warning(text):
    assert "cannot" in null_warning(text)


def test_ordering_values_of_different_types_is_null_with_a_warning_that_names_them():
    warning = null_warning("budget < 50000", budget="120000")
    assert warning == 'cannot compare string "120000" with number 50000; the comparison is null'


def test_comparisons_cannot_be_chained():
    error = syntax_error("1 < x < 3")
    assert "cannot be chained" in str(error) and error.position == 6


# ---------------------------------------------------------------- logic


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true and true", True),
        ("true and false", False),
        ("true and null", None),
        ("false and null", False),
        ("null and false", False),
        ("true or null", True),
        ("null or true", True),
        ("false or null", None),
        ("false or false", False),
        ("1 and true", None),
        ("not(true)", False),
        ("not(null)", None),
        ('not("x")', None),
    ],
)
def test_three_valued_logic(text, value):
    assert feel(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('if x > 5 then "big" else "small"', "big"),
        ('if null then "a" else "b"', "b"),
        ('if x then "a" else "b"', "b"),
        ("if x > 5 then if x > 8 then 3 else 2 else 1", 3),
    ],
)
def test_if_then_else(text, value):
    assert feel(text, x=10) == value


def test_if_needs_else():
    assert "expected 'else'" in str(syntax_error("if a then b"))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5 between 1 and 10", True),
        ("1 between 1 and 10", True),
        ("11 between 1 and 10", False),
        ("null between 1 and 10", None),
        ("x in (1, 2, 3)", True),
        ("x in [1..5]", True),
        ("x in (2..5]", False),
        ("x in < 5", True),
        ("x in [4, 5]", False),
        ('"b" in ("a", "b")', True),
        ("x in (> 5, < 3)", True),
    ],
)
def test_between_and_in(text, value):
    assert feel(text, x=2) == value


def test_instance_of():
    assert feel("x instance of number", x=1) is True
    assert feel("x instance of string", x=1) is False
    assert feel('date("2026-01-01") instance of date', x=1) is True
    assert feel("x instance of date and time", x=datetime(2026, 1, 1, tzinfo=UTC)) is True
    assert feel("null instance of Null") is True


# ---------------------------------------------------------------- names, paths, filters, contexts


def test_names_and_paths():
    project = {"owner": {"name": "Ada", "team": "CRM"}, "budget": 100}
    assert feel("project.owner.name", project=project) == "Ada"
    assert feel("project.missing", project=project) is None
    assert feel("projects.budget", projects=[{"budget": 1}, {"budget": 2}]) == [1, 2]
    assert feel("missing.anything") is None


def test_a_missing_variable_is_null_and_the_trace_says_so():
    state = EvalState()
    assert compile_expression("budgte").evaluate({}, state) is None
    assert state.warnings == ["'budgte' is not defined; it was taken as null"]


def test_multi_word_names_known_to_the_model_and_quoted_names():
    assert feel("Applicant Age + 1", frozenset({"Applicant Age"}), **{"Applicant Age": 40}) == 41
    assert feel("`risk score` * 2", **{"risk score": 3}) == 6
    assert feel("{monthly salary: 100, yearly salary: monthly salary * 12}.yearly salary") == 1200


def test_filters():
    assert feel("[1, 2, 3, 4][item > 2]") == [3, 4]
    assert feel("[1, 2, 3][1]") == 1
    assert feel("[1, 2, 3][-1]") == 3
    assert feel("[1, 2, 3][5]") is None
    people = [{"name": "a", "age": 30}, {"name": "b", "age": 17}]
    assert feel("people[age >= 18].name", people=people) == ["a"]
    assert feel("people[item.age < 18][1].name", people=people) == "b"


def test_context_entries_see_earlier_entries():
    assert feel("{a: 2, b: a * 3}") == {"a": 2, "b": 6}
    assert "context key 'a' appears twice" in null_warning("{a: 1, a: 2}")


# ---------------------------------------------------------------- iteration and functions


def test_for_some_every():
    assert feel("for x in [1, 2, 3] return x * x") == [1, 4, 9]
    assert feel("for i in 1..3 return i") == [1, 2, 3]
    assert feel("for i in 3..1 return i") == [3, 2, 1]
    assert feel("for a in [1, 2], b in [10, 20] return a + b") == [11, 21, 12, 22]
    assert feel("some x in [1, 5] satisfies x > 4") is True
    assert feel("every x in [1, 5] satisfies x > 4") is False
    assert feel("every x in [] satisfies x > 4") is True


def test_function_definitions():
    assert feel("{double: function(x) x * 2, r: double(21)}.r") == 42
    assert feel("sort([3, 1, 2], function(a, b) a > b)") == [3, 2, 1]


def test_typed_parameters_of_function_definitions_are_checked():
    assert feel("{f: function(a: number) a + 1}.f(1)") == 2
    assert "argument 'a' is a string, not of the parameter's type" in null_warning('{f: function(a: number) a}.f("x")')
    assert feel("{f: function(a: number, b) b}.f(null, 2)") == 2  # null conforms to every type
    assert feel('{f: function(a: list<string>) count(a)}.f(["x", "y"])') == 2
    assert null_warning("{f: function(a: list<string>) count(a)}.f([1])")


def test_built_in_functions_are_values_too():
    assert feel("{f: abs, g: sqrt, r: f(-5) * g(25)}.r") == 25
    assert feel('{f: string length}.f("abc")') == 3
    assert feel("abs instance of function<number> -> number") is True
    assert feel("{abs: 3}.abs") == 3  # a variable of that name comes first
    assert "abs() takes 1 argument, not 2" in null_warning("{f: abs}.f(1, 2)")
    assert "must be a string" in null_warning("{f: upper case}.f(5)")


def test_limits_stop_runaway_expressions():
    assert "100,000 items" in str(eval_error("for i in 1..1000000 return i"))
    stopped = str(eval_error("some a in (for i in 1..1000 return i), b in (for j in 1..1001 return j) satisfies false"))
    assert "steps" in stopped or "time limit" in stopped  # whichever comes first on a busy machine
    assert "nested" in str(syntax_error("(" * 60 + "1" + ")" * 60))
    assert "levels deep" in str(eval_error("{f: function(n) f(n + 1), r: f(1)}.r"))
    assert feel("-" * 5000 + "1") == 1
    assert "nested too deeply" in str(syntax_error("x" + ".y" * 5000))
    assert "nested too deeply" in str(syntax_error("1" + "+1" * 5000))


# ---------------------------------------------------------------- built-in functions


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('substring("foobar", 3)', "obar"),
        ('substring("foobar", 3, 3)', "oba"),
        ('substring("foobar", -2, 1)', "a"),
        ('string length("héllo")', 5),
        ('upper case("aBc")', "ABC"),
        ('lower case("aBc")', "abc"),
        ('substring before("foobar", "bar")', "foo"),
        ('substring after("foobar", "ob")', "ar"),
        ('contains("foobar", "of")', False),
        ('starts with("foobar", "fo")', True),
        ('ends with("foobar", "r")', True),
        ('matches("PRJ-4711", "^PRJ-[0-9]+$")', True),
        ('replace("abc", "b", "[$0]")', "a[b]c"),
        ('split("a,b,,c", ",")', ["a", "b", "", "c"]),
        ('string join(["a", "b"], "-")', "a-b"),
        ('string join(["a", null, "b"])', "ab"),
        ("string(1.50)", "1.5"),
        ('number("1.000,5", ".", ",")', 1000.5),
        ('number("abc")', None),
        ('substring(string: "foobar", start position: 4)', "bar"),
    ],
)
def test_string_functions(text, value):
    assert feel(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("list contains([1, 2], 2)", True),
        ("count([1, null, 3])", 3),
        ("min([3, 1, 2])", 1),
        ("max(3, 1, 2)", 3),
        ("sum([1, 2, 3])", 6),
        ("sum([])", None),
        ("mean([1, 2, 3, 4])", 2.5),
        ("median([3, 1, 2, 10])", 2.5),
        ("product([2, 3])", 6),
        ("append([1], 2, 3)", [1, 2, 3]),
        ("concatenate([1], [2, 3])", [1, 2, 3]),
        ("reverse([1, 2])", [2, 1]),
        ("index of([1, 2, 1], 1)", [1, 3]),
        ("distinct values([1, 2, 1])", [1, 2]),
        ("flatten([1, [2, [3]]])", [1, 2, 3]),
        ("sort([3, 1, 2])", [1, 2, 3]),
        ("sublist([1, 2, 3], 2)", [2, 3]),
        ("all([true, true])", True),
        ("all([true, null])", None),
        ("any([false, true])", True),
        ("union([1, 2], [2, 3])", [1, 2, 3]),
        ("insert before([1, 3], 2, 2)", [1, 2, 3]),
        ("remove([1, 2], 1)", [2]),
        ("mode([1, 2, 2])", [2]),
        ("stddev([2, 4, 4, 4, 5, 5, 7, 9])", pytest.approx(2.138, rel=1e-3)),
    ],
)
def test_list_functions(text, value):
    assert feel(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("decimal(1/3, 2)", 0.33),
        ("decimal(2.5, 0)", 2),
        ("floor(1.7)", 1),
        ("ceiling(1.2)", 2),
        ("floor(-1.5)", -2),
        ("round half up(2.5, 0)", 3),
        ("round down(2.99, 1)", 2.9),
        ("abs(-3)", 3),
        ("modulo(-5, 3)", 1),
        ("modulo(5, 0)", None),
        ("sqrt(16)", 4),
        ("sqrt(-1)", None),
        ("odd(3)", True),
        ("even(3)", False),
        ("exp(0)", 1),
    ],
)
def test_number_functions(text, value):
    assert feel(text) == value


def test_unknown_functions_and_wrong_argument_counts_are_null_with_a_warning():
    assert "lenght: null is not a function" in null_warning("lenght(x)")
    assert compile_expression("lenght(x)").calls == {"lenght"}
    assert "date() takes 1 or 3 arguments, not 2" in null_warning("date(2026, 1)")
    assert "substring() has no parameter 'foo'" in null_warning('substring(foo: "x")')
    assert "abs() takes 1 argument, not 0" in null_warning("abs()")


def test_function_argument_types_are_checked():
    assert "must be a string" in null_warning("upper case(5)")


def test_regular_expressions_that_backtrack_run_under_the_time_limit_and_others_are_refused():
    assert feel('matches("aaaa", "(a+)+$")') is True  # allowed: the time limit bounds backtracking
    assert feel('matches("ab", "^(a|b)+$")') is True
    assert "back-references" in str(eval_error('matches("aa", "(a)\\\\1")'))
    assert "multiply to at most" in str(eval_error('matches("a", "((a{1000}){1000}){1000}")'))
    assert "fuzzy" in str(eval_error('matches("abc", "(?:abd){e<=1}")'))
    assert feel('matches("A1", "^\\\\p{Lu}\\\\d{1,3}$")') is True


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r'matches("Mary\u000DJones", "Mary.Jones")', False),  # `.` is no line end
        (r'matches("Mary\u000DJones", "Mary.Jones", "s")', True),
        (r'matches("X", "^[A-Z-[OI]]+$", "i")', True),  # class subtraction
        (r'matches("O", "[A-Z-[OI]]")', False),
        (r'matches("B", "[^a-z-[b]]")', True),
        (r'matches("hello world", "hello\ sworld", "x")', True),  # x: whitespace goes before escapes are read
        (r'matches("a b", "a b", "x")', False),
        (r'matches("a b", "^a[ ]b$", "x")', True),  # ... but not inside a class
        (r'matches("hello world", "\p{ IsBasicLatin}+", "x")', True),  # a block
        (r'matches("héllo", "^\p{IsBasicLatin}+$")', False),
        (r'matches("abcd", "1[asd\0]")', None),  # no such escape: null
        (r'matches("a", "[a")', None),
        (r'replace("abc", "[a-c-[b]]", "x")', "xbx"),
    ],
)
def test_regular_expressions_are_xpaths(text: str, value: object) -> None:
    assert feel(text) == value


# ---------------------------------------------------------------- dates, times, durations


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('date("2026-01-31")', "2026-01-31"),
        ("date(2026, 2, 1)", "2026-02-01"),
        ('time("10:30:00")', "10:30:00"),
        ('time("10:30:00+02:00")', "10:30:00+02:00"),
        ('date and time("2026-01-01T10:00:00Z")', "2026-01-01T10:00:00Z"),
        ('date and time("2026-03-01T10:00:00@Europe/Berlin")', "2026-03-01T10:00:00@Europe/Berlin"),
        ('duration("P2DT3H")', "P2DT3H"),
        ('duration("P1Y2M")', "P1Y2M"),
        ('duration("-PT90M")', "-PT1H30M"),
        ('date("2026-01-31") + duration("P1M")', "2026-02-28"),
        ('date("2026-01-01") + duration("P10D")', "2026-01-11"),
        ('date("2026-03-01") - date("2026-01-01")', "P59D"),
        ('date("2026-03-01") - duration("P1D")', "2026-02-28"),
        ('date and time("2026-01-01T22:00:00") + duration("PT3H")', "2026-01-02T01:00:00"),
        ('time("23:00:00") + duration("PT2H")', "01:00:00"),
        ('years and months duration(date("2020-05-15"), date("2026-03-14"))', "P5Y9M"),
        ('duration("P1D") * 2', "P2D"),
        ('duration("P1D") / duration("PT12H")', 2),
        ('@"2026-01-01" < @"2026-02-01"', True),
        ('@"P1D" > @"PT23H"', True),
        ('date("2026-05-17").year', 2026),
        ('date("2026-05-17").weekday', 7),
        ('duration("P2DT3H").hours', 3),
        ('date and time("2026-01-01T10:15:00Z").minute', 15),
        ('day of week(date("2026-05-18"))', "Monday"),
        ('month of year(date("2026-05-18"))', "May"),
        ('week of year(date("2026-01-01"))', 1),
    ],
)
def test_temporal_values(text, value):
    assert feel(text) == value


def test_temporal_errors():
    assert "is not a date" in null_warning('date("2026-13-45x")')
    assert "no such date" in null_warning('date("2026-02-30")')
    assert "not a duration" in null_warning('duration("3 days")')
    assert "not a date, time, date and time or duration" in null_warning('@"3 days"')
    assert "cannot compare" in null_warning('date("2026-01-01") < 5')
    assert "with and without a time zone" in null_warning(
        'date and time("2026-01-01T10:00:00Z") < date and time("2026-01-01T10:00:00")'
    )
    assert "date out of range" in str(eval_error('date("999999999-12-31") + duration("P1D")'))


def test_today_and_now_use_the_injected_clock():
    state = EvalState(now=lambda: datetime(2026, 5, 1, 9, 30, tzinfo=UTC))
    assert compile_expression("today()").evaluate({}, state) == date(2026, 5, 1)
    assert compile_expression("now()").evaluate({}, EvalState(now=state.now)).hour == 9


def test_python_dates_and_durations_come_in_as_feel_values():
    assert feel('d + duration("P1D")', d=date(2026, 1, 1)) == "2026-01-02"
    assert feel("t.hour", t=time(8, 0)) == 8
    assert feel("x.days", x=timedelta(days=3)) == 3
    assert raw("x", x=YearsMonths(14)) == YearsMonths(14)


# ---------------------------------------------------------------- unary tests (input entries)


@pytest.mark.parametrize(
    ("test", "value", "result"),
    [
        ("-", 5, True),
        ("-", None, True),
        ("", "x", True),
        ("< 50000", 49999, True),
        ("< 50000", 50000, False),
        ("<= 50000", 50000, True),
        ("> 250000", 250001, True),
        (">= 10", 9.99, False),
        ("[50000..250000]", 50000, True),
        ("[50000..250000]", 250000, True),
        ("[50000..250000]", 250000.01, False),
        ("(1..10]", 1, False),
        ("(1..10]", 10, True),
        ("]1..10[", 10, False),
        ("[1..10)", 10, False),
        ('"standard"', "standard", True),
        ('"standard"', "Standard", False),
        ('"a","b"', "b", True),
        ('"a","b"', "c", False),
        ('not("a","b")', "c", True),
        ('not("a","b")', "a", False),
        ("not(< 5)", 7, True),
        ("null", None, True),
        ("null", 0, False),
        ("not(null)", 1, True),
        ("true", True, True),
        ("false", True, False),
        ("[1, 2]", 2, True),
        ("[1, 2]", 3, False),
        ("? > 5 and ? < 10", 7, True),
        ("? > 5 and ? < 10", 10, False),
        ("count(?) > 1", [1, 2], True),
        ('date("2026-01-01")', date(2026, 1, 1), True),
        ('[date("2026-01-01")..date("2026-12-31")]', date(2026, 6, 1), True),
        ("< limit", 5, True),
        ("= 5", 5, True),
        ("!= 5", 5, False),
        ("< 10, > 100", 500, True),
        ('duration("P1D")', timedelta(days=1), True),
        ("[1..5], 10", 10, True),
    ],
)
def test_unary_tests(test, value, result):
    assert passes(test, value, limit=10) is result


@pytest.mark.parametrize(("test", "value"), [("< 5", None), ("[1..5]", None), ("not(< 5)", None), ("> x", 1)])
def test_a_null_comparison_never_matches(test, value):
    assert passes(test, value) is False


def test_a_boolean_expression_decides_alone_unless_the_input_is_boolean():
    assert passes("x > 5", "anything", x=10) is True
    assert passes("x > 5", "anything", x=1) is False
    assert passes("true", False) is False


def test_unary_test_errors_name_the_position():
    with pytest.raises(FeelSyntaxError) as info:
        compile_unary_tests("50000 <= ? <= 250000")
    assert info.value.position == 11
    assert str(info.value).startswith("comparisons cannot be chained")
    for text, reason in [
        ("'low'", "double quotes"),
        ("[1..", "the text ends"),
        ('"abc', "not closed"),
        ("< 5 6", "unexpected number '6'"),
        ("in [1, 2]", "unexpected keyword 'in'"),
    ]:
        with pytest.raises(FeelSyntaxError) as info:
            compile_unary_tests(text)
        assert reason in str(info.value), text


def test_question_mark_only_in_input_entries():
    assert "only allowed in input entries" in str(syntax_error("? > 5"))


def test_unary_test_type_errors_raise():
    with pytest.raises(FeelError):
        passes("< 50000", "120000")


# ---------------------------------------------------------------- DMN 1.5 (measured by the TCK, tests/engine/dmn/test_tck.py)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1.23e4 = 12300", True),
        ("1e-3 * 2", 0.002),
        ('{🐎: "😀"}.🐎', "😀"),
        ("{foo+bar: 1, a b: 2}", {"foo+bar": 1, "a b": 2}),
        ('split("John Doe", "\\s")', ["John", "Doe"]),
        ('replace("0123456789", "(\\d{3})(\\d{3})(\\d{4})", "($1) $2-$3")', "(012) 345-6789"),
        ('[{a: "x", b: "y"}] instance of list<context<a: string, b: string>>', True),
        ("{a: {b: 1}} instance of context<a: context<b: string>>", False),
        ("[1..2] instance of range<number>", True),
        ("(function(a: number) a) instance of function<number> -> number", True),
        ('{f: function(a: number, b: list<string>) a + count(b)}.f(1, ["x"])', 2),
        ("(< 10) = (< 10)", True),
        ("(>= 10) = [10..null)", False),  # an open end is not a null end
        ("(!= 10) = (!= 10)", True),
        ("(= 10) = (= 10)", True),
        ("(= 10) = [10..10]", False),  # the unary test `= 10` is not the range of one value
        ("10 in (= 10)", True),
        ("5 in (< 10)", True),
        ("5 in (null..10]", None),
        ("[1, 2] in [[1, 2, 3], [1, 2]]", True),
        ("for i in [1..3) return i", [1, 2]),
        ('for d in @"2026-01-30"..@"2026-02-01" return d', ["2026-01-30", "2026-01-31", "2026-02-01"]),
        ("for i in 0..4 return if i = 0 then 1 else i * partial[-1]", [1, 1, 2, 6, 24]),
        ("for i in [2..1] return i", None),
        ('context([{key: "a", value: 1}, {key: "b", value: 2}])', {"a": 1, "b": 2}),
        ('context([{key: "a", value: 1}, {key: "a", value: 2}])', None),
        ('context put({x: 1, y: {a: 0}}, ["y", "a"], 2)', {"x": 1, "y": {"a": 2}}),
        ("context merge([{a: 1}, {a: 2, b: 3}])", {"a": 2, "b": 3}),
        ("list replace([1, 2, 3], 2, 4)", [1, 4, 3]),
        ("list replace([2, 4, 7], function(item, newItem) item < newItem, 5)", [5, 5, 7]),
        ("list replace([1, 2, 3], 0, 4)", None),
        ('is(@"10:00:00Z", @"10:00:00+00:00")', True),
        ('is(@"10:00:00@Etc/GMT", @"10:00:00Z")', False),
        ('is(@"P1Y", @"P12M")', True),
        ("is(value1: 1)", False),
        ('range("[1..10)") = [1..10)', True),
        ('2 in range("[1..3]")', True),
        ('range("[3..1]")', None),
        ("before(1, [2..5])", True),
        ("after([2..5], 1)", True),
        ("meets([1..5], [5..8])", True),
        ("overlaps([1..5], [3..8])", True),
        ("includes([1..10], [2..3])", True),
        ("during(5, [1..10])", True),
        ("starts(1, [1..5])", True),
        ("finishes([3..5], [1..5])", True),
        ("coincides([1..5], [1..5])", True),
        ('upper case(["bob"])', "BOB"),
        ('substring("foobar", 3, 3.8)', "oba"),
        ('number("1,000,000", ",", null)', 1000000),
        ('string join(["a", "b"], null)', "ab"),
        ("round up(5.5, 6176)", 5.5),
        ('string(@"2021-01-01T24:00:00")', "2021-01-02T00:00:00"),
        ('string(time(11, 59, 45, duration("PT2H45M55S")))', "11:59:45+02:45:55"),
        ('string(@"10:15:00@Australia/Melbourne" + @"PT1H")', "11:15:00@Australia/Melbourne"),
        ('string(date and time("2011-12-31T10:15:30.987@Europe/Paris"))', "2011-12-31T10:15:30.987@Europe/Paris"),
        ('@"2021-01-02T10:10:10@Europe/Paris" - @"2021-01-01"', "P1DT9H10M10S"),
        ('@"2021-01-01T00:00:00" - @"2021-01-02"', None),  # a local date and time with a (UTC) date: null
        ('years and months duration(@"2011-08-25T15:59:59", @"2015-08-25T15:20:59")', "P4Y"),
        ('duration("P999999999Y")', "P999999999Y"),
        ("[{item: 1}, {item: 2}][item >= 2]", [{"item": 2}]),
    ],
)
def test_dmn_15_feel(text, value):
    assert feel(text) == value
