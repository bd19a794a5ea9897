"""DMN XML (an already parsed, hardened lxml tree) to decision models, with every problem found.

Reads decision tables, literal-expression decisions, input data and information requirements
(several decisions per file), and the decision's test table in our extension namespace:

    <decision id="approval_tier" name="Approval tier">
      <extensionElements>
        <pmoflow:tests>
          <pmoflow:test id="t1" name="budget just below tier 2">
            <pmoflow:input name="budget">49999</pmoflow:input>
            <pmoflow:expect name="tier">1</pmoflow:expect>
          </pmoflow:test>
        </pmoflow:tests>
      </extensionElements>
      ...

Expression language: a cell's own `expressionLanguage`, else the definitions' one. Without
either, a decision is read as FEEL (the DMN default); only if some of its cells are not
FEEL (or use Python's True/False/None) while all of them are valid in SpiffWorkflow's
Python dialect, is it read as Python, so models written for SpiffWorkflow keep working.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from engine.core.errors import Problem
from engine.dmn.compiled import compile_model
from engine.dmn.errors import CellError, ModelInvalid
from engine.dmn.model import (
    AGGREGATIONS,
    AUTO,
    FEEL,
    HIT_POLICIES,
    PYTHON,
    Cell,
    Decision,
    DecisionModel,
    DecisionTable,
    InputClause,
    InputData,
    LiteralExpression,
    OutputClause,
    Rule,
    TestCase,
)
from engine.dmn.python_cells import PythonCheck

PMOFLOW_NS = "https://pmoflow.dev/schema/bpmn/1.0"
PYTHON_ONLY_NAMES = frozenset({"True", "False", "None"})
BOXED = (
    "context",
    "invocation",
    "list",
    "relation",
    "functionDefinition",
    "conditional",
    "filter",
    "for",
    "every",
    "some",
)


@dataclass
class DmnFile:
    """What one DMN file holds: a model per decision, problems, and the line of every element id."""

    filename: str
    models: list[DecisionModel] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)

    def problem(self, message: str, element_id: str | None, code: str = "invalid_decision") -> None:
        self.problems.append(Problem(message, self.filename, element_id, self.lines.get(element_id or ""), code))


def read_dmn(filename: str, root: etree._Element, python_check: PythonCheck | None = None) -> DmnFile:
    """Read every decision of a DMN file; problems (never exceptions) say what is wrong and where."""
    result = DmnFile(filename, lines=_lines(root))
    ctx = _Ctx(root, result)
    input_data = _input_data(ctx, root)
    decisions = {d.id: d for el in root.iterfind(ctx.tag("decision")) if (d := _decision(ctx, el))}
    _check_requirements(result, decisions, input_data)
    names = _names(decisions, input_data)
    decisions = {k: _resolve_language(d, names, python_check) for k, d in decisions.items()}
    _report_cells(result, decisions, names, python_check)
    if not result.problems:
        result.models = [_model(filename, d, decisions, input_data) for d in decisions.values()]
    return result


def _lines(root: etree._Element) -> dict[str, int]:
    return {el_id: el.sourceline or 0 for el in root.iter() if isinstance(el.tag, str) and (el_id := el.get("id"))}


def _names(decisions: dict[str, Decision], input_data: dict[str, InputData]) -> frozenset[str]:
    names = {d.name for d in input_data.values()}
    for decision in decisions.values():
        names.add(decision.variable)
        names.update(decision.output_names)
    return frozenset(names)


# ---------------------------------------------------------------- reading elements


class _Ctx:
    """The file being read: its DMN namespace, default language and where problems go."""

    def __init__(self, root: etree._Element, result: DmnFile) -> None:
        self.ns = etree.QName(root).namespace
        self.result = result
        self.default_language = self.language(root.get("expressionLanguage"), root.get("id"))

    def tag(self, local: str) -> str:
        return f"{{{self.ns}}}{local}"

    def problem(self, message: str, element_id: str | None, code: str = "invalid_decision") -> None:
        self.result.problem(message, element_id, code)

    def language(self, value: str | None, element_id: str | None) -> str:
        """FEEL, PYTHON, or AUTO when nothing is declared; reports languages we cannot run."""
        if not value:
            return AUTO
        lowered = value.lower()
        if "feel" in lowered:
            return FEEL
        if "python" in lowered:
            return PYTHON
        self.problem(
            f"expression language {value!r} is not supported; use FEEL (the default) or python",
            element_id,
            "unsupported",
        )
        return FEEL

    def cell(self, el: etree._Element | None, owner_id: str | None, language: str | None = None) -> Cell:
        if el is None:
            return Cell("", owner_id, language or FEEL)
        own = el.get("expressionLanguage")
        lang = language or (self.language(own, el.get("id") or owner_id) if own else self.default_language)
        return Cell(el.findtext(self.tag("text")) or "", el.get("id") or owner_id, lang)


def _input_data(ctx: _Ctx, root: etree._Element) -> dict[str, InputData]:
    found = {}
    for el in root.iterfind(ctx.tag("inputData")):
        variable = el.find(ctx.tag("variable"))
        name = (variable.get("name") if variable is not None else None) or el.get("name") or el.get("id") or ""
        iid = el.get("id") or name
        found[iid] = InputData(iid, name, variable.get("typeRef") if variable is not None else None)
    return found


def _decision(ctx: _Ctx, el: etree._Element) -> Decision | None:
    did = el.get("id")
    if not did:
        ctx.result.problems.append(
            Problem("decision without an id", ctx.result.filename, None, el.sourceline, "invalid_decision")
        )
        return None
    name = el.get("name") or did
    variable = el.find(ctx.tag("variable"))
    var_name = (variable.get("name") if variable is not None else None) or name
    logic = _logic(ctx, el, did, var_name)
    decisions, inputs = _requirements(ctx, el, did)
    tests = _tests(ctx, el, did)
    return None if logic is None else Decision(did, name, var_name, logic, decisions, inputs, tests)


def _requirements(ctx: _Ctx, el: etree._Element, did: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    decisions: list[str] = []
    inputs: list[str] = []
    for req in el.iterfind(ctx.tag("informationRequirement")):
        for kind, target in (("requiredDecision", decisions), ("requiredInput", inputs)):
            ref = req.find(ctx.tag(kind))
            if ref is not None:
                target.append(_local_ref(ref.get("href") or ""))
    if el.find(ctx.tag("knowledgeRequirement")) is not None:
        ctx.problem("business knowledge models (knowledgeRequirement) are not supported", did, "unsupported")
    return tuple(decisions), tuple(inputs)


def _local_ref(href: str) -> str:
    """`#decision_id` -> `decision_id` (references into other files keep their text and fail the check)."""
    return href[1:] if href.startswith("#") else href


def _logic(ctx: _Ctx, el: etree._Element, did: str, variable: str) -> DecisionTable | LiteralExpression | None:
    table = el.find(ctx.tag("decisionTable"))
    if table is not None:
        return _table(ctx, table, did, variable)
    literal = el.find(ctx.tag("literalExpression"))
    if literal is not None:
        variable_el = el.find(ctx.tag("variable"))
        type_ref = literal.get("typeRef") or (variable_el.get("typeRef") if variable_el is not None else None)
        return LiteralExpression(literal.get("id") or did, ctx.cell(literal, did), type_ref)
    boxed = [etree.QName(c).localname for c in el if isinstance(c.tag, str) and etree.QName(c).localname in BOXED]
    if boxed:
        ctx.problem(
            f"boxed expression {boxed[0]!r} is not supported; use a decision table or a literal expression",
            did,
            "unsupported",
        )
    else:
        ctx.problem("decision has no decision table and no literal expression", did)
    return None


def _table(ctx: _Ctx, el: etree._Element, did: str, variable: str) -> DecisionTable | None:
    tid = el.get("id") or did
    policy = (el.get("hitPolicy") or "UNIQUE").upper().replace("_", " ")
    aggregation = (el.get("aggregation") or "").upper() or None
    problems_before = len(ctx.result.problems)
    if policy not in HIT_POLICIES:
        ctx.problem(f"unknown hit policy {policy!r} (expected one of {', '.join(HIT_POLICIES)})", tid)
    if aggregation and (aggregation not in AGGREGATIONS or policy != "COLLECT"):
        ctx.problem(f"aggregation {aggregation!r} needs hit policy COLLECT and one of {', '.join(AGGREGATIONS)}", tid)
    inputs = tuple(_input(ctx, i, did) for i in el.iterfind(ctx.tag("input")))
    outputs = _outputs(ctx, el, did, variable)
    rules = tuple(
        _rule(ctx, r, n, len(inputs), len(outputs), did) for n, r in enumerate(el.iterfind(ctx.tag("rule")), start=1)
    )
    _check_table(ctx, tid, policy, aggregation, outputs)
    if len(ctx.result.problems) > problems_before:
        return None
    require = el.get(f"{{{PMOFLOW_NS}}}requireMatch", "").lower() == "true"
    return DecisionTable(tid, policy, aggregation, inputs, outputs, rules, require)


def _input(ctx: _Ctx, el: etree._Element, did: str) -> InputClause:
    iid = el.get("id") or did
    expression = el.find(ctx.tag("inputExpression"))
    values = el.find(ctx.tag("inputValues"))
    return InputClause(
        iid,
        el.get("label") or "",
        ctx.cell(expression, iid),
        expression.get("typeRef") if expression is not None else None,
        ctx.cell(values, iid, FEEL) if values is not None else None,
    )


def _outputs(ctx: _Ctx, el: etree._Element, did: str, variable: str) -> tuple[OutputClause, ...]:
    elements = list(el.iterfind(ctx.tag("output")))
    outputs = []
    for out in elements:
        oid = out.get("id") or did
        name = out.get("name") or (variable if len(elements) == 1 else "") or out.get("label") or oid
        values = out.find(ctx.tag("outputValues"))
        default = out.find(ctx.tag("defaultOutputEntry"))
        outputs.append(
            OutputClause(
                oid,
                out.get("label") or "",
                name,
                out.get("typeRef"),
                ctx.cell(values, oid, FEEL) if values is not None else None,
                ctx.cell(default, oid) if default is not None else None,
            )
        )
    return tuple(outputs)


def _rule(ctx: _Ctx, el: etree._Element, number: int, inputs: int, outputs: int, did: str) -> Rule:
    rid = el.get("id") or f"{did}_rule_{number}"
    entries = [ctx.cell(e, rid) for e in el.iterfind(ctx.tag("inputEntry"))]
    results = [ctx.cell(e, rid) for e in el.iterfind(ctx.tag("outputEntry"))]
    if len(entries) != inputs or len(results) != outputs:
        ctx.problem(
            f"rule {number} has {len(entries)} input and {len(results)} output entries; the table has "
            f"{inputs} inputs and {outputs} outputs",
            rid,
        )
    description = (el.findtext(ctx.tag("description")) or "").strip()
    return Rule(rid, number, description, tuple(entries), tuple(results))


def _check_table(ctx: _Ctx, tid: str, policy: str, aggregation: str | None, outputs: tuple[OutputClause, ...]) -> None:
    if not outputs:
        ctx.problem("decision table has no output column", tid)
    names = [o.name for o in outputs]
    for name in sorted({n for n in names if names.count(n) > 1}):
        ctx.problem(f"output name {name!r} is used twice; give each output a distinct name", tid)
    if aggregation and len(outputs) > 1:
        ctx.problem(f"aggregation {aggregation} needs exactly one output column", tid)
    if policy in ("PRIORITY", "OUTPUT ORDER"):
        for out in outputs:
            if out.allowed is None or not out.allowed.text.strip():
                ctx.problem(
                    f"hit policy {policy} orders by output values, but output {out.name!r} lists none "
                    '(set its output values, e.g. "high","medium","low")',
                    out.id,
                )


def _tests(ctx: _Ctx, el: etree._Element, did: str) -> tuple[TestCase, ...]:
    container = el.find(f"{ctx.tag('extensionElements')}/{{{PMOFLOW_NS}}}tests")
    if container is None:
        return ()
    cases = []
    for number, test in enumerate(container.iterfind(f"{{{PMOFLOW_NS}}}test"), start=1):
        name = test.get("name") or test.get("id") or f"test {number}"
        inputs = tuple((i.get("name") or "", (i.text or "").strip()) for i in test.iterfind(f"{{{PMOFLOW_NS}}}input"))
        expected = tuple(
            (e.get("name") or "", (e.text or "").strip()) for e in test.iterfind(f"{{{PMOFLOW_NS}}}expect")
        )
        where = test.get("id") or did
        if not expected:
            ctx.problem(f"decision test {name!r} expects nothing; add <pmoflow:expect name=...>", where)
        if any(not n or not t for n, t in inputs + expected):
            ctx.problem(f"decision test {name!r}: every input and expect needs a name and a value", where)
        cases.append(TestCase(name, inputs, expected, test.get("id")))
    return tuple(cases)


# ---------------------------------------------------------------- the requirement graph


def _check_requirements(result: DmnFile, decisions: dict[str, Decision], inputs: dict[str, InputData]) -> None:
    for decision in decisions.values():
        for ref in decision.required_decisions:
            if ref not in decisions:
                result.problem(f"required decision {ref!r} is not in this file", decision.id, "missing_requirement")
        for ref in decision.required_inputs:
            if ref not in inputs:
                result.problem(f"required input data {ref!r} is not in this file", decision.id, "missing_requirement")
    for decision in decisions.values():
        cycle = _cycle(decision.id, decisions, [])
        if cycle and cycle[0] == decision.id:
            result.problem(
                "decisions require each other in a cycle: " + " -> ".join(cycle), decision.id, "decision_cycle"
            )


def _cycle(did: str, decisions: dict[str, Decision], path: list[str]) -> list[str] | None:
    if did in path:
        return [*path[path.index(did) :], did]
    decision = decisions.get(did)
    if decision is None:
        return None
    for ref in decision.required_decisions:
        found = _cycle(ref, decisions, [*path, did])
        if found:
            return found
    return None


def _model(filename: str, top: Decision, decisions: dict[str, Decision], inputs: dict[str, InputData]) -> DecisionModel:
    ordered: list[Decision] = []

    def visit(decision: Decision) -> None:
        if decision in ordered:
            return
        for ref in decision.required_decisions:
            visit(decisions[ref])
        ordered.append(decision)

    visit(top)
    used = sorted({ref for d in ordered for ref in d.required_inputs})
    return DecisionModel(top.id, top.name, filename, tuple(ordered), tuple(inputs[i] for i in used))


# ---------------------------------------------------------------- languages and cells


def _single(decision: Decision) -> DecisionModel:
    return DecisionModel(decision.id, decision.name, "", (decision,))


def _cell_errors(
    decision: Decision, names: frozenset[str], check: PythonCheck | None
) -> tuple[list[CellError], frozenset[str]]:
    try:
        compiled = compile_model(_single(decision), check, names)
    except ModelInvalid as invalid:
        return invalid.errors, frozenset()
    return [], compiled.reads


def _resolve_language(decision: Decision, names: frozenset[str], check: PythonCheck | None) -> Decision:
    if not any(c.language == AUTO for c in decision.cells()):
        return decision
    feel = decision.with_language(FEEL)
    errors, reads = _cell_errors(feel, names, None)
    if not errors and not reads & PYTHON_ONLY_NAMES:
        return feel
    if check is not None:
        python = decision.with_language(PYTHON)
        if not _cell_errors(python, names, check)[0]:
            return python
    return feel


def _report_cells(
    result: DmnFile, decisions: dict[str, Decision], names: frozenset[str], check: PythonCheck | None
) -> None:
    for decision in decisions.values():
        for error in _cell_errors(decision, names, check)[0]:
            result.problem(error.describe(), error.cell.element_id or decision.id, "bad_expression")
