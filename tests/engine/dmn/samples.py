"""DMN documents for tests: a few builders, so each test shows only what it is about."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from engine.core.errors import Problem
from engine.dmn.compiler import compile_model
from engine.dmn.dmn_file import DmnFile
from engine.dmn.evaluate import Evaluation, evaluate
from engine.dmn.model import DecisionModel
from engine.dmn.reader import read_dmn
from engine.spiff.expressions.sandbox import SandboxedEnvironment, check_expression

DMN13 = "https://www.omg.org/spec/DMN/20191111/MODEL/"
PMOFLOW = "https://pmoflow.dev/schema/bpmn/1.0"


def dmn(*parts: str, language: str | None = None, namespace: str = DMN13) -> str:
    lang = f" expressionLanguage={quoteattr(language)}" if language else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<definitions xmlns="{namespace}" xmlns:pmoflow="{PMOFLOW}" '
        f'id="defs" name="test" namespace="https://pmoflow.dev/tests"{lang}>\n' + "".join(parts) + "</definitions>\n"
    )


def requirements(decisions: Sequence[str] = (), inputs: Sequence[str] = ()) -> str:
    reqs = [
        f'<informationRequirement id="req_{d}"><requiredDecision href="#{d}"/></informationRequirement>'
        for d in decisions
    ]
    reqs += [
        f'<informationRequirement id="req_{i}"><requiredInput href="#{i}"/></informationRequirement>' for i in inputs
    ]
    return "\n".join(reqs)


def table(
    did: str,
    inputs: Sequence[str],
    outputs: Sequence[str],
    rules: Sequence[tuple[Sequence[str], Sequence[str]]],
    hit_policy: str = "UNIQUE",
    aggregation: str | None = None,
    requires: Sequence[str] = (),
    requires_inputs: Sequence[str] = (),
    tests: str = "",
    output_values: dict[str, str] | None = None,
    defaults: dict[str, str] | None = None,
    table_attrs: str = "",
    entry_attrs: str = "",
    input_values: dict[str, str] | None = None,
    type_refs: dict[str, str] | None = None,
) -> str:
    """A decision with a table; inputs are expressions, outputs names, rules (input entries, output entries)."""
    output_values, defaults = output_values or {}, defaults or {}
    input_values, type_refs = input_values or {}, type_refs or {}
    agg = f' aggregation="{aggregation}"' if aggregation else ""
    cols = "".join(
        f'<input id="{did}_in{i}" label={quoteattr(expr)}><inputExpression id="{did}_ie{i}"'
        f"{' typeRef=' + quoteattr(type_refs[expr]) if expr in type_refs else ''}><text>{escape(expr)}</text>"
        f"</inputExpression>"
        + (f"<inputValues><text>{escape(input_values[expr])}</text></inputValues>" if expr in input_values else "")
        + "</input>\n"
        for i, expr in enumerate(inputs)
    )
    outs = "".join(
        f'<output id="{did}_out{i}" name="{name}">'
        + (f"<outputValues><text>{escape(output_values[name])}</text></outputValues>" if name in output_values else "")
        + (
            f"<defaultOutputEntry><text>{escape(defaults[name])}</text></defaultOutputEntry>"
            if name in defaults
            else ""
        )
        + "</output>\n"
        for i, name in enumerate(outputs)
    )
    rows = []
    for r, (entries, results) in enumerate(rules, start=1):
        cells = "".join(
            f'<inputEntry id="{did}_r{r}_i{c}"{entry_attrs}><text>{escape(t)}</text></inputEntry>'
            for c, t in enumerate(entries)
        )
        cells += "".join(
            f'<outputEntry id="{did}_r{r}_o{c}"{entry_attrs}><text>{escape(t)}</text></outputEntry>'
            for c, t in enumerate(results)
        )
        rows.append(f'<rule id="{did}_rule{r}">{cells}</rule>\n')
    ext = f"<extensionElements><pmoflow:tests>{tests}</pmoflow:tests></extensionElements>\n" if tests else ""
    return (
        f'<decision id="{did}" name="{did}">\n{ext}{requirements(requires, requires_inputs)}\n'
        f'<decisionTable id="{did}_table" hitPolicy="{hit_policy}"{agg}{table_attrs}>\n{cols}{outs}'
        + "".join(rows)
        + "</decisionTable>\n</decision>\n"
    )


def literal(
    did: str,
    text: str,
    variable: str | None = None,
    requires: Sequence[str] = (),
    requires_inputs: Sequence[str] = (),
    name: str | None = None,
    tests: str = "",
) -> str:
    var = f'<variable id="{did}_var" name={quoteattr(variable)}/>' if variable else ""
    ext = f"<extensionElements><pmoflow:tests>{tests}</pmoflow:tests></extensionElements>\n" if tests else ""
    return (
        f'<decision id="{did}" name={quoteattr(name or did)}>{ext}{var}{requirements(requires, requires_inputs)}'
        f'<literalExpression id="{did}_expr"><text>{escape(text)}</text></literalExpression></decision>\n'
    )


def input_data(iid: str, name: str | None = None, type_ref: str | None = None) -> str:
    name = iid if name is None else name
    typed = f" typeRef={quoteattr(type_ref)}" if type_ref else ""
    return (
        f'<inputData id="{iid}" name={quoteattr(name)}><variable id="{iid}_var" name={quoteattr(name)}{typed}/>'
        "</inputData>\n"
    )


def case_row(tid: str, inputs: dict[str, str], expected: dict[str, str]) -> str:
    ins = "".join(f"<pmoflow:input name={quoteattr(k)}>{escape(v)}</pmoflow:input>" for k, v in inputs.items())
    outs = "".join(f"<pmoflow:expect name={quoteattr(k)}>{escape(v)}</pmoflow:expect>" for k, v in expected.items())
    return f'<pmoflow:test id="{tid}" name="{tid}">{ins}{outs}</pmoflow:test>'


def python_check(source: str) -> str | None:
    return check_expression(source, "eval")


def read(text: str, filename: str = "t.dmn") -> DmnFile:
    return read_dmn(filename, etree.fromstring(text.encode()), python_check)


def models(text: str) -> dict[str, DecisionModel]:
    result = read(text)
    assert result.problems == [], [str(p) for p in result.problems]
    return {m.decision: m for m in result.models}


def problems(text: str) -> list[Problem]:
    result = read(text)
    assert result.problems, "expected problems"
    return result.problems


def run(text: str, decision: str | None = None, **variables: object) -> Evaluation:
    found = models(text)
    model = found[decision] if decision else next(iter(found.values()))
    return evaluate(compile_model(model), variables, python=SandboxedEnvironment(time_limit=1.0))
