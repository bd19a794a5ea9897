"""Reading the elements of a DMN file: item definitions, input data, decisions (with their requirements and
test table), business knowledge models and decision services.
"""

from __future__ import annotations

import re

from lxml import etree

from engine.core.errors import Problem
from engine.dmn.dmn_file import PMOFLOW_NS, FileContext
from engine.dmn.expressions import FEEL, BoxedFunction
from engine.dmn.model import BusinessKnowledgeModel, Decision, DecisionService, InputData, ItemDefinition, TestCase
from engine.dmn.read_expressions import read_function, read_logic

_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,199}")


def read_item_definition(ctx: FileContext, el: etree._Element, component: bool = False) -> ItemDefinition:
    name = el.get("name") or ""
    if not component and ctx.prefix:
        name = f"{ctx.prefix}.{name}"
    allowed = el.find(ctx.tag("allowedValues"))
    components = tuple(read_item_definition(ctx, c, True) for c in el.iterfind(ctx.tag("itemComponent")))
    function = el.find(ctx.tag("functionItem"))
    return ItemDefinition(
        name=name,
        type_ref=ctx.type_ref((el.findtext(ctx.tag("typeRef")) or "").strip()),
        is_collection=el.get("isCollection", "").lower() == "true",
        allowed=ctx.cell(allowed, el.get("id"), FEEL) if allowed is not None else None,
        components=components,
        function=function is not None,
        output_type=ctx.type_ref(function.get("outputTypeRef")) if function is not None else None,
    )


def _variable(ctx: FileContext, el: etree._Element, fallback: str) -> tuple[str, str | None]:
    variable = el.find(ctx.tag("variable"))
    if variable is None:
        return fallback, None
    return variable.get("name") or fallback, ctx.type_ref(variable.get("typeRef"))


def read_input_data(ctx: FileContext, root: etree._Element) -> list[InputData]:
    found = []
    for el in root.iterfind(ctx.tag("inputData")):
        name, type_ref = _variable(ctx, el, el.get("name") or el.get("id") or "")
        found.append(InputData(ctx.qualify(el.get("id") or name), name, type_ref, ctx.prefix))
    return found


def _element_id(ctx: FileContext, el: etree._Element, what: str) -> str | None:
    """The element's id; DMN makes it optional, so a name that is a valid id stands in (a deployed decision needs
    a key)."""
    eid = el.get("id") or _as_id(el.get("name"))
    if not eid:
        ctx.result.problems.append(
            Problem(f"{what} without an id", ctx.result.filename, None, el.sourceline, "invalid_decision")
        )
    return eid


def read_decision(ctx: FileContext, el: etree._Element) -> Decision | None:
    did = _element_id(ctx, el, "decision")
    if not did:
        return None
    name = el.get("name") or did
    var_name, type_ref = _variable(ctx, el, name)
    logic = read_logic(ctx, el, did, var_name, type_ref)
    decisions, inputs, knowledge = _requirements(ctx, el)
    tests = _tests(ctx, el, did)
    if logic is None:
        return None
    return Decision(ctx.qualify(did), name, var_name, logic, decisions, inputs, tests, knowledge, type_ref, ctx.prefix)


def _requirements(ctx: FileContext, el: etree._Element) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    decisions: list[str] = []
    inputs: list[str] = []
    for req in el.iterfind(ctx.tag("informationRequirement")):
        for kind, target in (("requiredDecision", decisions), ("requiredInput", inputs)):
            ref = req.find(ctx.tag(kind))
            if ref is not None:
                target.append(ctx.ref(ref.get("href") or ""))
    knowledge = [
        ctx.ref(ref.get("href") or "")
        for req in el.iterfind(ctx.tag("knowledgeRequirement"))
        if (ref := req.find(ctx.tag("requiredKnowledge"))) is not None
    ]
    return tuple(decisions), tuple(inputs), tuple(knowledge)


def _as_id(name: str | None) -> str | None:
    """`name` if it can serve as an id (an XML name without spaces: `fn-null-input`), else None."""
    return name if name and _ID.fullmatch(name) else None


def read_bkm(ctx: FileContext, el: etree._Element) -> BusinessKnowledgeModel | None:
    bid = _element_id(ctx, el, "business knowledge model")
    if not bid:
        return None
    name = el.get("name") or bid
    variable, _ = _variable(ctx, el, name)
    logic_el = el.find(ctx.tag("encapsulatedLogic"))
    logic = read_function(ctx, logic_el, bid) if logic_el is not None else BoxedFunction(bid, (), None)
    _, _, knowledge = _requirements(ctx, el)
    if logic is None:
        return None
    return BusinessKnowledgeModel(ctx.qualify(bid), name, variable, logic, knowledge, ctx.prefix)


def read_service(ctx: FileContext, el: etree._Element) -> DecisionService | None:
    sid = _element_id(ctx, el, "decision service")
    if not sid:
        return None
    name = el.get("name") or sid
    variable, type_ref = _variable(ctx, el, name)

    def refs(kind: str) -> tuple[str, ...]:
        return tuple(ctx.ref(r.get("href") or "") for r in el.iterfind(ctx.tag(kind)))

    return DecisionService(
        ctx.qualify(sid),
        name,
        variable,
        refs("outputDecision"),
        refs("encapsulatedDecision"),
        refs("inputDecision"),
        refs("inputData"),
        ctx.prefix,
        type_ref,
    )


def _tests(ctx: FileContext, el: etree._Element, did: str) -> tuple[TestCase, ...]:
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
