"""Reading expression elements: decision tables, literal expressions and boxed expressions, nested to any
depth (contexts, invocations, lists, relations, function definitions, conditionals, filters, iterators).

Each reader answers None, with a problem naming the element, when the expression cannot work.
"""

from __future__ import annotations

from lxml import etree

from engine.dmn.dmn_file import EXPRESSIONS, PMOFLOW_NS, FileContext
from engine.dmn.expressions import (
    AGGREGATIONS,
    FEEL,
    HIT_POLICIES,
    Binding,
    BoxedConditional,
    BoxedContext,
    BoxedFilter,
    BoxedFunction,
    BoxedInvocation,
    BoxedIterator,
    BoxedList,
    BoxedRelation,
    Cell,
    ContextEntry,
    DecisionTable,
    Expression,
    InputClause,
    LiteralExpression,
    OutputClause,
    Parameter,
    Rule,
)


def read_logic(
    ctx: FileContext, el: etree._Element, did: str, variable: str, type_ref: str | None
) -> Expression | None:
    child = _expression_child(ctx, el)
    if child is None:  # allowed by the standard (a decision made outside the model): its value is null
        return LiteralExpression(did, Cell("", did, FEEL), type_ref)
    return read_expression(ctx, child, did, variable, type_ref)


def _expression_child(ctx: FileContext, el: etree._Element | None) -> etree._Element | None:
    """The first child of `el` that is an expression."""
    if el is None:
        return None
    for child in el:
        if (
            isinstance(child.tag, str)
            and child.tag.startswith(f"{{{ctx.ns}}}")
            and etree.QName(child).localname in EXPRESSIONS
        ):
            return child
    return None


def _sub(ctx: FileContext, el: etree._Element | None, owner: str, what: str) -> Expression | None:
    """The expression inside `el` (an `if`, `in`, `return`, a binding); a problem when there is none."""
    child = _expression_child(ctx, el)
    if child is None:
        ctx.problem(f"{what} has no expression", (el.get("id") if el is not None else None) or owner)
        return None
    return read_expression(ctx, child, owner)


def read_expression(
    ctx: FileContext, el: etree._Element, owner: str, variable: str = "", type_ref: str | None = None
) -> Expression | None:
    """Any expression element, nested boxed expressions included; None (with a problem) when it cannot work."""
    kind = etree.QName(el).localname
    eid = el.get("id") or owner
    own_type = ctx.type_ref(el.get("typeRef")) or type_ref
    if kind == "literalExpression":
        return LiteralExpression(eid, ctx.cell(el, owner), own_type)
    if kind == "decisionTable":
        return _table(ctx, el, owner, variable)
    if kind == "context":
        entries = []
        for entry in el.iterfind(ctx.tag("contextEntry")):
            var = entry.find(ctx.tag("variable"))
            name = var.get("name") if var is not None else None
            entry_type = ctx.type_ref(var.get("typeRef")) if var is not None else None
            value = _sub(ctx, entry, eid, f"context entry {name or '(result)'!r}")
            if value is None:
                return None
            entries.append(ContextEntry(name, value, entry_type))
        return BoxedContext(eid, tuple(entries), own_type)
    if kind == "invocation":
        target = _expression_child(ctx, el)
        if target is None or etree.QName(target).localname != "literalExpression":
            ctx.problem("invocation does not name the function it invokes", eid)
            return None
        bindings = []
        for binding in el.iterfind(ctx.tag("binding")):
            parameter = binding.find(ctx.tag("parameter"))
            pname = (parameter.get("name") if parameter is not None else None) or ""
            value_el = _expression_child(ctx, binding)
            value = read_expression(ctx, value_el, eid) if value_el is not None else None
            if value_el is not None and value is None:
                return None
            bindings.append(Binding(pname, value))
        return BoxedInvocation(eid, ctx.cell(target, eid), tuple(bindings), own_type)
    if kind == "list":
        items = [
            read_expression(ctx, c, eid)
            for c in el
            if isinstance(c.tag, str) and etree.QName(c).localname in EXPRESSIONS
        ]
        return None if any(i is None for i in items) else BoxedList(eid, tuple(i for i in items if i), own_type)
    if kind == "relation":
        columns = tuple(c.get("name") or "" for c in el.iterfind(ctx.tag("column")))
        rows = []
        for number, row in enumerate(el.iterfind(ctx.tag("row")), start=1):
            cells = [
                read_expression(ctx, c, eid)
                for c in row
                if isinstance(c.tag, str) and etree.QName(c).localname in EXPRESSIONS
            ]
            if len(cells) != len(columns):
                ctx.problem(
                    f"relation row {number} has {len(cells)} cells for {len(columns)} columns", row.get("id") or eid
                )
                return None
            if any(c is None for c in cells):
                return None
            rows.append(tuple(c for c in cells if c))
        return BoxedRelation(eid, columns, tuple(rows), own_type)
    if kind == "functionDefinition":
        return read_function(ctx, el, eid)
    if kind == "conditional":
        parts = [_sub(ctx, el.find(ctx.tag(part)), eid, f"conditional {part!r}") for part in ("if", "then", "else")]
        if parts[0] is None or parts[1] is None or parts[2] is None:
            return None
        return BoxedConditional(eid, parts[0], parts[1], parts[2], own_type)
    if kind == "filter":
        source, match = (_sub(ctx, el.find(ctx.tag(part)), eid, f"filter {part!r}") for part in ("in", "match"))
        return None if source is None or match is None else BoxedFilter(eid, source, match, own_type)
    # for, some, every
    variable_name = el.get("iteratorVariable") or ""
    if not variable_name:
        ctx.problem(f"{kind} has no iteratorVariable", eid)
        return None
    body_tag = "return" if kind == "for" else "satisfies"
    source = _sub(ctx, el.find(ctx.tag("in")), eid, f"{kind} 'in'")
    body = _sub(ctx, el.find(ctx.tag(body_tag)), eid, f"{kind} {body_tag!r}")
    if source is None or body is None:
        return None
    return BoxedIterator(eid, kind, variable_name, source, body, own_type)


def read_function(ctx: FileContext, el: etree._Element, owner: str) -> BoxedFunction | None:
    eid = el.get("id") or owner
    kind = (el.get("kind") or "FEEL").upper()
    if kind != "FEEL":
        ctx.problem(
            f"function definition {eid!r} is of kind {kind}; only FEEL functions can be evaluated "
            "(Java and PMML functions are not supported)",
            eid,
            "unsupported",
        )
        return None
    params = tuple(
        Parameter(p.get("name") or "", ctx.type_ref(p.get("typeRef"))) for p in el.iterfind(ctx.tag("formalParameter"))
    )
    body_el = _expression_child(ctx, el)
    body = read_expression(ctx, body_el, eid) if body_el is not None else None
    if body_el is not None and body is None:
        return None
    return BoxedFunction(eid, params, body, ctx.type_ref(el.get("typeRef")))


def _table(ctx: FileContext, el: etree._Element, did: str, variable: str) -> DecisionTable | None:
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


def _input(ctx: FileContext, el: etree._Element, did: str) -> InputClause:
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


def _outputs(ctx: FileContext, el: etree._Element, did: str, variable: str) -> tuple[OutputClause, ...]:
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


def _rule(ctx: FileContext, el: etree._Element, number: int, inputs: int, outputs: int, did: str) -> Rule:
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


def _check_table(
    ctx: FileContext, tid: str, policy: str, aggregation: str | None, outputs: tuple[OutputClause, ...]
) -> None:
    if not outputs:
        ctx.problem("decision table has no output column", tid)
    names = [o.name for o in outputs]
    for name in sorted({n for n in names if names.count(n) > 1}):
        ctx.problem(f"output name {name!r} is used twice; give each output a distinct name", tid)
    if aggregation and len(outputs) > 1:
        ctx.problem(f"aggregation {aggregation} needs exactly one output column", tid)
    ordered = [out for out in outputs if out.allowed is not None and out.allowed.text.strip()]
    if policy in ("PRIORITY", "OUTPUT ORDER") and outputs and not ordered:  # outputs without a list do not order
        out = outputs[0]
        ctx.problem(
            f"hit policy {policy} orders by output values, but output {out.name!r} lists none "
            '(set its output values, e.g. "high","medium","low")',
            out.id,
        )
