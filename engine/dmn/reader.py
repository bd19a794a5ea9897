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

from collections.abc import Mapping
from dataclasses import replace

from lxml import etree

from engine.dmn.compiler import compile_model
from engine.dmn.dmn_file import DmnFile, Drg, FileContext, element_lines
from engine.dmn.errors import CellError, ModelInvalid
from engine.dmn.expressions import AUTO, FEEL, PYTHON, ServiceCall, map_cells, walk_cells
from engine.dmn.model import BusinessKnowledgeModel, Decision, DecisionModel, DecisionService, model_names
from engine.dmn.python_cells import PythonCheck
from engine.dmn.read_elements import read_bkm, read_decision, read_input_data, read_item_definition, read_service

PYTHON_ONLY_NAMES = frozenset({"True", "False", "None"})
MAX_IMPORT_DEPTH = 8


def read_dmn(
    filename: str,
    root: etree._Element,
    python_check: PythonCheck | None = None,
    files: Mapping[str, etree._Element] | None = None,
) -> DmnFile:
    """Read every decision and decision service of a DMN file; `files` (name -> root) are the deployment's other
    DMN files, which `import` elements find by namespace. Problems (never exceptions) say what is wrong and where."""
    result = DmnFile(filename, lines=element_lines(root))
    drg = Drg()
    ctx = FileContext(root, result, drg)
    _read_file(ctx, root, files or {}, (filename,))
    _check_requirements(result, drg)
    names = model_names(drg.decisions.values(), drg.input_data.values(), drg.bkms.values(), drg.services.values())
    drg.decisions = {k: _resolve_language(d, names, python_check, drg) for k, d in drg.decisions.items()}
    _report_cells(result, drg, names, python_check)
    if not result.problems:
        own = [d for d in drg.decisions.values() if not d.prefix]
        services = [_service_decision(s, drg) for s in drg.services.values() if not s.prefix]
        result.models = [_model(filename, d, drg) for d in own + services]
    return result


def _read_file(
    ctx: FileContext, root: etree._Element, files: Mapping[str, etree._Element], chain: tuple[str, ...]
) -> None:
    """Read the file's imports (recursively), item definitions, input data, BKMs, services and decisions."""
    for el in root.iterfind(ctx.tag("import")):
        _read_import(ctx, el, files, chain)
    for el in root.iterfind(ctx.tag("itemDefinition")):
        item = read_item_definition(ctx, el)
        ctx.drg.items[item.name] = item
    for item_data in read_input_data(ctx, root):
        ctx.drg.input_data[item_data.id] = item_data
    for el in root.iterfind(ctx.tag("businessKnowledgeModel")):
        if bkm := read_bkm(ctx, el):
            ctx.drg.bkms[bkm.id] = bkm
    for el in root.iterfind(ctx.tag("decisionService")):
        if service := read_service(ctx, el):
            ctx.drg.services[service.id] = service
    for el in root.iterfind(ctx.tag("decision")):
        if decision := read_decision(ctx, el):
            ctx.drg.decisions[decision.id] = decision


def _read_import(
    ctx: FileContext, el: etree._Element, files: Mapping[str, etree._Element], chain: tuple[str, ...]
) -> None:
    namespace, name = el.get("namespace") or "", el.get("name") or ""
    kind = el.get("importType") or ""
    where = f"import {name!r} (namespace {namespace!r})"
    if kind and "dmn" not in kind.lower():
        return  # XML Schema or PMML imports define nothing we evaluate
    found = [(f, r) for f, r in files.items() if r.get("namespace") == namespace and f not in chain]
    if not found:
        cyclic = any(f in files and files[f].get("namespace") == namespace for f in chain)
        reason = (
            "the files import each other in a cycle" if cyclic else "no DMN file of this deployment has this namespace"
        )
        ctx.result.problem(
            f"{where}: {reason} (deploy the imported file together with this one)",
            el.get("id") or name or None,
            "missing_import",
            line=el.sourceline,
        )
        return
    if len(chain) > MAX_IMPORT_DEPTH:
        ctx.result.problem(f"{where}: imports are nested too deeply", el.get("id"), "missing_import", el.sourceline)
        return
    filename, root = found[0]
    prefix = f"{ctx.prefix}.{name}" if ctx.prefix and name else name or ctx.prefix
    path = ctx.drg.prefixes.setdefault(namespace, prefix or namespace)
    if path != (prefix or namespace):  # imported again through another path: the same elements
        ctx.drg.aliases[prefix or namespace] = path
        return
    inner = DmnFile(filename, lines=element_lines(root))
    _read_file(FileContext(root, inner, ctx.drg, prefix or namespace), root, files, (*chain, filename))
    if inner.problems:
        first = inner.problems[0]
        ctx.result.problem(
            f"{where}: the imported file {filename!r} has problems ({first.message})",
            el.get("id"),
            "missing_import",
            line=el.sourceline,
        )


# ---------------------------------------------------------------- the requirement graph


def _check_requirements(result: DmnFile, drg: Drg) -> None:
    decisions, inputs, knowledge = drg.decisions, drg.input_data, {**drg.bkms, **drg.services}

    def missing(what: str, ref: str, owner: str) -> None:
        if "#" in ref and ref.rpartition("#")[0] not in drg.namespaces:
            reason = f"{what} {ref!r} is in a namespace this file does not import"
        else:
            reason = f"{what} {ref!r} is not in this file or the files it imports"
        result.problem(reason, owner, "missing_requirement")

    for decision in decisions.values():
        for ref in decision.required_decisions:
            if ref not in decisions:
                missing("required decision", ref, decision.id)
        for ref in decision.required_inputs:
            if ref not in inputs:
                missing("required input data", ref, decision.id)
        for ref in decision.required_knowledge:
            if ref not in knowledge:
                missing("required knowledge", ref, decision.id)
    for bkm in drg.bkms.values():
        for ref in bkm.required_knowledge:
            if ref not in knowledge:
                missing("required knowledge", ref, bkm.id)
    for service in drg.services.values():
        for ref in (*service.outputs, *service.encapsulated, *service.input_decisions):
            if ref not in decisions:
                missing("decision", ref, service.id)
        for ref in service.input_data:
            if ref not in inputs:
                missing("input data", ref, service.id)
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


def _model(filename: str, top: Decision, drg: Drg) -> DecisionModel:
    """`top` with everything it requires: decisions (those of the services it invokes first, then its own
    requirements in dependency order), BKMs, services, the input data and item definitions they use."""
    ordered: list[Decision] = []
    bkms: dict[str, BusinessKnowledgeModel] = {}
    services: dict[str, DecisionService] = {}

    def visit(decision: Decision) -> None:
        if decision in ordered:
            return
        for ref in decision.required_decisions:
            visit(drg.decisions[ref])
        for ref in decision.required_knowledge:
            knowledge(ref)
        logic = decision.logic
        if isinstance(logic, ServiceCall):
            knowledge(logic.service)
        ordered.append(decision)

    def knowledge(ref: str) -> None:
        if ref in bkms or ref in services:
            return
        if ref in drg.bkms:
            bkm = bkms[ref] = drg.bkms[ref]
            for inner in bkm.required_knowledge:
                knowledge(inner)
        elif ref in drg.services:
            service = services[ref] = drg.services[ref]
            for did in (*service.input_decisions, *service.encapsulated, *service.outputs):
                visit(drg.decisions[did])

    for service in drg.services.values():  # a FEEL text may call any service of the file by name
        if service.prefix == top.prefix:
            knowledge(service.id)
    for bkm in drg.bkms.values():  # and any BKM: knowledge requirements are often left out
        knowledge(bkm.id)
    visit(top)
    ordered.remove(top)
    ordered.append(top)
    used = {ref for d in ordered for ref in d.required_inputs}
    used.update(ref for s in services.values() for ref in s.input_data)
    input_data = tuple(i for key, i in drg.input_data.items() if key in used)
    return DecisionModel(
        top.id,
        top.name,
        filename,
        tuple(ordered),
        input_data,
        bkms=tuple(bkms.values()),
        services=tuple(services.values()),
        item_definitions=tuple(drg.items.values()),
        aliases=tuple(drg.aliases.items()),
    )


def _service_decision(service: DecisionService, drg: Drg) -> Decision:
    """A decision service as the top of a model of its own: the API evaluates it like a decision, its outputs
    named by its output decisions."""
    outputs = tuple(drg.decisions[o].variable for o in service.outputs if o in drg.decisions)
    return Decision(service.id, service.name, service.variable, ServiceCall(service.id, service.id, outputs))


# ---------------------------------------------------------------- languages and cells


def _single(decision: Decision, drg: Drg) -> DecisionModel:
    return DecisionModel(
        decision.id,
        decision.name,
        "",
        (decision,),
        bkms=tuple(drg.bkms.values()),
        services=tuple(drg.services.values()),
        item_definitions=tuple(drg.items.values()),
    )


def _cell_errors(
    model: DecisionModel, names: frozenset[str], check: PythonCheck | None
) -> tuple[list[CellError], frozenset[str], frozenset[str]]:
    """The cells that do not compile, the names the cells read, and the functions they call that nothing
    defines (null in FEEL, but in a model without a language they usually mean Python: `len(x)`)."""
    try:
        compiled = compile_model(model, check, names, check_only=True)
    except ModelInvalid as invalid:
        return invalid.errors, frozenset(), frozenset()
    return [], compiled.reads, compiled.calls - names


def _resolve_language(decision: Decision, names: frozenset[str], check: PythonCheck | None, drg: Drg) -> Decision:
    if not any(c.language == AUTO for c in decision.cells()):
        return decision
    feel = decision.with_language(FEEL)
    errors, reads, unknown_calls = _cell_errors(_single(feel, drg), names, None)
    if not errors and not reads & PYTHON_ONLY_NAMES and not unknown_calls:
        return feel
    if check is not None:
        python = decision.with_language(PYTHON)
        if not _cell_errors(_single(python, drg), names, check)[0]:
            return python
    return feel


def _report_cells(result: DmnFile, drg: Drg, names: frozenset[str], check: PythonCheck | None) -> None:
    for decision in drg.decisions.values():
        if not decision.prefix:
            for error in _cell_errors(_single(decision, drg), names, check)[0]:
                result.problem(error.describe(), error.cell.element_id or decision.id, "bad_expression")
    for key, bkm in list(drg.bkms.items()):
        if any(c.language == AUTO for c in walk_cells(bkm.logic)):
            logic = map_cells(bkm.logic, lambda c: replace(c, language=FEEL) if c.language == AUTO else c)
            bkm = drg.bkms[key] = replace(bkm, logic=logic)
        if bkm.prefix:
            continue
        as_decision = Decision(bkm.id, bkm.name, bkm.variable, bkm.logic)
        for error in _cell_errors(_single(as_decision, drg), names, check)[0]:
            result.problem(
                error.describe().replace("decision ", "business knowledge model ", 1),
                error.cell.element_id or bkm.id,
                "bad_expression",
            )
