"""Deploy-time structure: sub-process scopes, timer values, structural problems with element id and line."""

from __future__ import annotations

import json

import pytest

from engine.core.errors import DeploymentInvalid, Problem
from engine.spiff.model import builder
from engine.spiff.model.parsing import SourceFile, parse_deployment
from tests.bpmn_samples import document, flow, line_of, process

LIMIT = 100_000


def parsed(text: str):  # type: ignore[no-untyped-def]
    [one] = parse_deployment([SourceFile("s.bpmn", text.encode())], max_bytes=LIMIT).processes
    return one


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(DeploymentInvalid) as info:
        parse_deployment([SourceFile("s.bpmn", text.encode())], max_bytes=LIMIT)
    return info.value.problems


def sub(sid: str, body: str, tag: str = "subProcess", attrs: str = "") -> str:
    return f'<bpmn:{tag} id="{sid}"{attrs}>\n{body}</bpmn:{tag}>\n'


def test_user_tasks_of_nested_sub_processes_belong_to_their_sub_process():
    inner = sub(
        "inner",
        '<bpmn:startEvent id="is"/>\n<bpmn:userTask id="deep"/>\n<bpmn:endEvent id="ie"/>\n'
        + flow("i1", "is", "deep")
        + flow("i2", "deep", "ie"),
    )
    outer = sub(
        "outer",
        '<bpmn:startEvent id="os"/>\n<bpmn:userTask id="mid"/>\n'
        + inner
        + '<bpmn:endEvent id="oe"/>\n'
        + flow("o1", "os", "mid")
        + flow("o2", "mid", "inner")
        + flow("o3", "inner", "oe"),
    )
    text = document(
        process(
            '<bpmn:startEvent id="start"/>\n'
            + outer
            + '<bpmn:endEvent id="end"/>\n'
            + flow("f1", "start", "outer")
            + flow("f2", "outer", "end")
        )
    )
    tasks = {t["element_id"]: t["process"] for t in parsed(text).user_tasks}
    assert tasks == {"mid": "outer", "deep": "inner"}


@pytest.mark.parametrize("tag", ["subProcess", "transaction"])
def test_sub_processes_and_transactions_build(tag):
    body = sub("s", '<bpmn:startEvent id="ss"/>\n<bpmn:endEvent id="se"/>\n' + flow("s1", "ss", "se"), tag)
    text = document(
        process(
            '<bpmn:startEvent id="start"/>\n'
            + body
            + '<bpmn:endEvent id="end"/>\n'
            + flow("f1", "start", "s")
            + flow("f2", "s", "end")
        )
    )
    spec = json.loads(parsed(text).spec_json)
    assert set(spec["subprocess_specs"]) == {"s"}


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("timeDuration", "PT1S"),
        ("timeDuration", "P7D"),
        ("timeDuration", "\n   PT1S\n  "),
        ("timeDuration", '"PT1S"'),
        ("timeCycle", "R4/PT1S"),
        ("timeDate", "2026-01-01T00:00:00Z"),
        ("timeDate", "'2026-01-01T00:00:00Z'"),
    ],
)
def test_iso_timer_values_with_or_without_quotes_become_string_literals(kind, value):
    timer = (
        f'<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition id="td">'
        f"<bpmn:{kind}>{value}</bpmn:{kind}></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>\n"
    )
    text = document(
        process(
            '<bpmn:startEvent id="start"/>\n'
            + timer
            + '<bpmn:endEvent id="end"/>\n'
            + flow("f1", "start", "wait")
            + flow("f2", "wait", "end")
        )
    )
    spec = json.loads(parsed(text).spec_json)
    expression = spec["spec"]["task_specs"]["wait"]["event_definition"]["expression"]
    assert expression.strip("'\"") == value.strip().strip("'\"") and expression[0] in "'\""


def script(tid: str, code: str = "x = 1", inner: str = "") -> str:
    return f'<bpmn:scriptTask id="{tid}">{inner}<bpmn:script>{code}</bpmn:script></bpmn:scriptTask>\n'


START, END = '<bpmn:startEvent id="start"/>\n', '<bpmn:endEvent id="end"/>\n'


def only(problems: list[Problem], code: str) -> Problem:
    matching = [p for p in problems if p.code == code]
    assert len(matching) == 1, problems
    return matching[0]


def test_an_end_event_with_an_outgoing_flow_is_refused():
    text = document(
        process(
            START
            + script("a")
            + END
            + script("b")
            + flow("f1", "start", "a")
            + flow("f2", "a", "end")
            + flow("f3", "end", "b")
        )
    )
    problem = only(problems_of(text), "end_with_outgoing")
    assert (problem.file, problem.element_id, problem.line) == ("s.bpmn", "end", line_of(text, 'id="end"'))
    assert "f3" in problem.message


def test_a_start_event_without_an_outgoing_flow_is_refused():
    text = document(process(START + script("a") + END + flow("f2", "a", "end")))
    problem = only(problems_of(text), "start_without_outgoing")
    assert (problem.element_id, problem.line) == ("start", line_of(text, 'id="start"'))
    assert only(problems_of(text), "unreachable").element_id == "a"


@pytest.mark.parametrize(
    ("target", "words"), [("ghost", "names no element"), ("inner_task", "another scope"), ("d1", "not a flow node")]
)
def test_a_sequence_flow_to_nowhere_or_into_another_scope_is_refused(target, words):
    inner = sub(
        "sp",
        '<bpmn:startEvent id="is"/>\n'
        + script("inner_task")
        + '<bpmn:endEvent id="ie"/>\n'
        + flow("i1", "is", "inner_task")
        + flow("i2", "inner_task", "ie"),
    )
    text = document(
        process(
            START
            + script("a")
            + inner
            + END
            + '<bpmn:dataObject id="d1"/>\n'
            + flow("f1", "start", "a")
            + flow("f2", "a", "sp")
            + flow("f3", "sp", "end")
            + flow("bad", "a", target)
        )
    )
    problem = only(problems_of(text), "dangling_flow")
    assert (problem.element_id, problem.line) == ("bad", line_of(text, 'id="bad"'))
    assert words in problem.message


@pytest.mark.parametrize("sequential", ["true", "false"])
def test_a_multi_instance_without_cardinality_or_collection_is_refused(sequential):
    mi = f'<bpmn:multiInstanceLoopCharacteristics isSequential="{sequential}"/>'
    text = document(process(START + script("a", inner=mi) + END + flow("f1", "start", "a") + flow("f2", "a", "end")))
    problem = only(problems_of(text), "mi_without_input")
    assert (problem.element_id, problem.line) == ("a", line_of(text, 'id="a"'))


def test_a_message_reference_to_nothing_is_a_problem_not_a_crash():
    catch = (
        '<bpmn:intermediateCatchEvent id="wait"><bpmn:messageEventDefinition id="md" messageRef="m1"/>'
        "</bpmn:intermediateCatchEvent>\n"
    )
    text = document(process(START + catch + END + flow("f1", "start", "wait") + flow("f2", "wait", "end")))
    problem = only(problems_of(text), "missing_message")
    assert problem.element_id == "wait" and "m1" in problem.message


def test_data_objects_and_data_stores_are_kept_as_documentation():
    body = (
        '<bpmn:dataObject id="DataObject_1"/>\n<bpmn:dataObjectReference id="dor" dataObjectRef="DataObject_1"/>\n'
        '<bpmn:dataStoreReference id="dsr" name="CRM"/>\n'
        + script(
            "a",
            inner='<bpmn:dataInputAssociation id="dia"><bpmn:sourceRef>dsr</bpmn:sourceRef>'
            "<bpmn:targetRef>a_in</bpmn:targetRef></bpmn:dataInputAssociation>"
            '<bpmn:dataOutputAssociation id="doa"><bpmn:targetRef>dor</bpmn:targetRef>'
            "</bpmn:dataOutputAssociation>",
        )
    )
    text = document(process(START + body + END + flow("f1", "start", "a") + flow("f2", "a", "end")))
    assert parsed(text).key == "p1"


def test_a_parser_fault_becomes_a_problem_naming_the_process(monkeypatch):
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(builder.PmoflowParser, "get_spec", broken)
    text = document(process(START + script("a") + END + flow("f1", "start", "a") + flow("f2", "a", "end")))
    problem = only(problems_of(text), "spec")
    assert problem.element_id == "p1" and "RecursionError" in problem.message


def test_whitespace_around_expressions_is_removed_before_they_run():
    mi = (
        "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>\n   3\n  </bpmn:loopCardinality>"
        "</bpmn:multiInstanceLoopCharacteristics>"
    )
    text = document(
        process(
            START
            + '<bpmn:exclusiveGateway id="g" default="f3"/>\n'
            + script("a", inner=mi)
            + script("b", "\n      y = 1\n      z = 2\n   ")
            + END
            + flow("f1", "start", "g")
            + flow("f2", "g", "a", "\n    x &gt; 1\n    and x &lt; 9\n  ")
            + flow("f3", "g", "b")
            + flow("f4", "a", "end")
            + flow("f5", "b", "end")
        )
    )
    specs = json.loads(parsed(text).spec_json)["spec"]["task_specs"]
    assert specs["g"]["cond_task_specs"][0]["condition"] == "(x > 1\nand x < 9\n)"
    assert specs["a"]["cardinality"] == "3"
    assert specs["b"]["script"] == "y = 1\nz = 2"


def test_an_empty_sub_process_and_data_inputs_and_outputs_do_not_stop_a_run(ctx):
    """itp-commerce (MIWG C.3.0) exports a collapsed sub-process whose content lives elsewhere: it completes at once.
    Trisotech (C.8.1) and others declare data inputs and outputs (ioSpecification) that only the data associations,
    kept as documentation, could fill: they are documentation too."""
    from engine.definitions import deployments
    from engine.runtime import instances
    from tests.factories import ADMIN, BOT, source

    io_spec = (
        '<bpmn:ioSpecification id="io"><bpmn:dataInput id="in_1" name="Employee Badge Number"/>'
        '<bpmn:dataOutput id="out_1" name="Result"/><bpmn:inputSet id="is"><bpmn:dataInputRefs>in_1'
        '</bpmn:dataInputRefs></bpmn:inputSet><bpmn:outputSet id="os"><bpmn:dataOutputRefs>out_1'
        "</bpmn:dataOutputRefs></bpmn:outputSet></bpmn:ioSpecification>"
    )
    task_io = io_spec.replace('id="', 'id="t_').replace(">in_1<", ">t_in_1<").replace(">out_1<", ">t_out_1<")
    body = (
        io_spec + '<bpmn:startEvent id="start"/>'
        '<bpmn:subProcess id="collapsed" name="Perform emergency repair"/>'
        f'<bpmn:scriptTask id="work" scriptFormat="python">{task_io}'
        '<bpmn:script>done = True</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="end"/>'
        + flow("f1", "start", "collapsed")
        + flow("f2", "collapsed", "work")
        + flow("f3", "work", "end")
    )
    deployments.deploy(ctx, ADMIN, [source("empty.bpmn", document(process(body)))])
    view = instances.start(ctx, BOT, "p1")
    assert view.status == "completed" and view.error is None
    trail = [e.element_id for e in instances.audit_trail(ctx, ADMIN, view.id) if e.type == "element_completed"]
    assert trail == ["start", "collapsed", "work", "end"]


def test_a_documentation_pool_is_not_checked_for_structure():
    sloppy = process('<bpmn:startEvent id="s2"/>\n<bpmn:task id="t2"/>\n', pid="customer", executable=False)
    text = document(process(START + script("a") + END + flow("f1", "start", "a") + flow("f2", "a", "end")), sloppy)
    assert [p.key for p in parse_deployment([SourceFile("s.bpmn", text.encode())], max_bytes=LIMIT).processes] == ["p1"]


def test_an_activity_whose_flow_conditions_all_fail_is_an_incident_naming_the_activity(ctx):
    from engine.definitions import deployments
    from engine.runtime import instances
    from tests.factories import ADMIN, BOT, source

    body = (
        START
        + script("a")
        + script("b")
        + END
        + '<bpmn:endEvent id="e2"/>\n'
        + flow("f1", "start", "a")
        + flow("f2", "a", "b", "x &gt; 5")
        + flow("f3", "b", "end")
        + flow("f4", "a", "e2", "x &gt; 9")
    )
    deployments.deploy(ctx, ADMIN, [source("split.bpmn", document(process(body)))])
    view = instances.start(ctx, BOT, "p1")
    assert view.status == "error" and view.error["element_id"] == "a"
    assert "no condition of the flows leaving 'a' holds" in view.error["message"]
