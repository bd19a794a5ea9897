"""Deployment checks: every problem at once, each with file, element id and line."""

from __future__ import annotations

import pytest

from engine.core.errors import DeploymentInvalid, Problem
from engine.spiff.model.parsing import SourceFile, parse_deployment
from tests.bpmn_samples import (
    document,
    flow,
    lane,
    line_of,
    linear,
    one_approval,
    process,
    script_task,
    user_task,
)

LIMIT = 100_000


def problems_of(*files: tuple[str, str | bytes], max_bytes: int = LIMIT) -> list[Problem]:
    sources = [SourceFile(n, c.encode() if isinstance(c, str) else c) for n, c in files]
    with pytest.raises(DeploymentInvalid) as info:
        parse_deployment(sources, max_bytes=max_bytes)
    return info.value.problems


def only(problems: list[Problem], code: str) -> Problem:
    matching = [p for p in problems if p.code == code]
    assert len(matching) == 1, problems
    return matching[0]


def test_a_valid_process_parses_with_its_user_tasks():
    [parsed] = parse_deployment([SourceFile("a.bpmn", one_approval().encode())], max_bytes=LIMIT).processes
    assert parsed.key == "p1"
    assert parsed.user_tasks == [
        {
            "process": "p1",
            "element_id": "approve",
            "name": "Approve",
            "lane": "IT Manager",
            "form": None,
            "candidate_groups": [],
            "candidate_users": [],
            "assignee": None,
            "expressions": {},
            "default_group": None,
            "approval": None,
            "separation": {"initiator": False, "repeat": False},
            "priority": None,
            "sla": None,
        }
    ]


def test_malformed_xml_names_file_and_line():
    text = one_approval().replace("</bpmn:userTask>", "</bpmn:userTsk>")
    problem = only(problems_of(("broken.bpmn", text)), "malformed_xml")
    assert problem.file == "broken.bpmn"
    assert problem.line == line_of(text, "</bpmn:userTsk>")
    assert "malformed XML" in problem.message


def test_xxe_is_refused_and_nothing_is_read():
    text = '<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n' + one_approval().split(
        "\n", 1
    )[1].replace('name="Approve"', 'name="&x;"')
    problem = only(problems_of(("xxe.bpmn", text)), "forbidden_xml")
    assert "DOCTYPE" in problem.message
    assert "root:" not in str(problem)


def test_billion_laughs_is_refused():
    text = (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>\n'
        "<lolz>&lol2;</lolz>"
    )
    assert only(problems_of(("lol.bpmn", text)), "forbidden_xml")


def test_oversize_file_is_refused():
    problem = only(problems_of(("big.bpmn", one_approval() + " " * 2000), max_bytes=1000), "too_large")
    assert problem.file == "big.bpmn"
    assert "limit is 1000" in problem.message


def test_unknown_element_type():
    text = document(
        process(
            '<bpmn:startEvent id="start"/>\n<bpmn:complexGateway id="cg"/>\n'
            '<bpmn:endEvent id="end"/>\n' + flow("f1", "start", "cg") + flow("f2", "cg", "end")
        )
    )
    problem = only(problems_of(("u.bpmn", text)), "unknown_element")
    assert (problem.element_id, problem.line) == ("cg", line_of(text, "<bpmn:complexGateway"))
    assert "bpmn:complexGateway" in problem.message


def test_misspelt_element_is_reported_by_the_schema_check():
    text = one_approval().replace("<bpmn:endEvent", "<bpmn:endEvnt")
    problems = problems_of(("typo.bpmn", text))
    assert any(
        p.code in ("unknown_element", "schema") and p.line == line_of(text, "<bpmn:endEvnt") for p in problems
    ), problems


def test_gateway_branch_without_condition_deploys():
    """BPMN: a flow without a condition leaving a gateway is always taken; it is no deploy problem."""
    body = (
        '<bpmn:startEvent id="start"/>\n<bpmn:exclusiveGateway id="gw" default="f_no"/>\n'
        '<bpmn:endEvent id="yes"/>\n<bpmn:endEvent id="maybe"/>\n<bpmn:endEvent id="no"/>\n'
        + flow("f0", "start", "gw")
        + flow("f_yes", "gw", "yes", "x &gt; 1")
        + flow("f_maybe", "gw", "maybe")
        + flow("f_no", "gw", "no")
    )
    [parsed] = parse_deployment([SourceFile("gw.bpmn", document(process(body)).encode())], max_bytes=LIMIT).processes
    assert parsed.key == "p1"


def test_unparseable_timer_and_bare_iso_is_accepted():
    def with_timer(value: str) -> str:
        body = (
            '<bpmn:startEvent id="start"/>\n<bpmn:intermediateCatchEvent id="wait">'
            f'<bpmn:timerEventDefinition id="td"><bpmn:timeDuration>{value}</bpmn:timeDuration>'
            '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>\n<bpmn:endEvent id="end"/>\n'
            + flow("f0", "start", "wait")
            + flow("f1", "wait", "end")
        )
        return document(process(body))

    problem = only(problems_of(("t.bpmn", with_timer("two days"))), "bad_timer")
    assert problem.element_id == "wait"  # the event on the diagram, not its definition
    problem = only(problems_of(("t.bpmn", with_timer('"P2X"'))), "bad_timer")
    assert "P2X" in problem.message
    parse_deployment([SourceFile("t.bpmn", with_timer("PT2H").encode())], max_bytes=LIMIT)
    parse_deployment([SourceFile("t.bpmn", with_timer('var("sla", "P2D")').encode())], max_bytes=LIMIT)


def test_user_task_outside_any_lane_deploys():
    [parsed] = parse_deployment(
        [SourceFile("nolane.bpmn", linear((user_task("approve"), "approve")).encode())], max_bytes=LIMIT
    ).processes
    [task] = parsed.user_tasks
    assert (task["lane"], task["candidate_groups"], task["default_group"]) == (None, [], None)


CAMUNDA = 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
ZEEBE = 'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"'


def _one_task(task: str) -> str:
    return linear((task, "t")).replace("<bpmn:definitions ", f"<bpmn:definitions {CAMUNDA} {ZEEBE} ", 1)


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        (
            '<bpmn:userTask id="t" camunda:candidateGroups="Finance, Security" camunda:candidateUsers="bob,carol" '
            'camunda:assignee="alice" camunda:asyncBefore="true" camunda:exclusive="false" camunda:jobPriority="5"/>',
            {
                "candidate_groups": ["Finance", "Security"],
                "candidate_users": ["bob", "carol"],
                "assignee": "alice",
                "expressions": {},
            },
        ),
        (
            '<bpmn:userTask id="t" camunda:candidateGroups="${groups}" camunda:assignee="${request.owner}"/>',
            {
                "candidate_groups": [],
                "candidate_users": [],
                "assignee": None,
                "expressions": {"candidate_groups": "groups", "assignee": "request['owner']"},
            },
        ),
        (
            "<bpmn:userTask id=\"t\" camunda:candidateGroups=\"${amount &gt; 1000 ? 'Finance' : 'IT'}\"/>",
            {"expressions": {"candidate_groups": "('Finance' if (amount > 1000) else 'IT')"}},
        ),
        (
            '<bpmn:userTask id="t"><bpmn:extensionElements><zeebe:assignmentDefinition '
            'candidateGroups="=if urgent then &#34;A&#34; else &#34;B&#34;"/></bpmn:extensionElements></bpmn:userTask>',
            {"expressions": {"candidate_groups": 'feel(\'if urgent then "A" else "B"\')'}},
        ),
        (
            '<bpmn:userTask id="t"><bpmn:extensionElements><zeebe:assignmentDefinition assignee="=owner" '
            'candidateGroups="Finance" candidateUsers="=[&quot;bob&quot;, &quot;carol&quot;]"/>'
            "</bpmn:extensionElements></bpmn:userTask>",
            {
                "candidate_groups": ["Finance"],
                "candidate_users": ["bob", "carol"],
                "assignee": None,
                "expressions": {"assignee": "owner"},
            },
        ),
        (
            '<bpmn:userTask id="t"><bpmn:extensionElements><pmoflow:assignment candidateUsers="erin" assignee="dave"/>'
            "</bpmn:extensionElements></bpmn:userTask>",
            {"candidate_groups": [], "candidate_users": ["erin"], "assignee": "dave", "expressions": {}},
        ),
    ],
)
def test_assignment_from_pmoflow_camunda_7_and_camunda_8(task, expected):
    [parsed] = parse_deployment([SourceFile("a.bpmn", _one_task(task).encode())], max_bytes=LIMIT).processes
    [info] = parsed.user_tasks
    assert {k: info[k] for k in expected} == expected


@pytest.mark.parametrize("value", ["${approvers.stream().toList()}", "=if urgent then", "${users.pick(1)}"])
def test_an_assignment_expression_we_cannot_translate_is_a_deploy_problem(value):
    text = _one_task(f'<bpmn:userTask id="t" camunda:candidateUsers="{value.replace(chr(34), "&quot;")}"/>')
    problem = only(problems_of(("x.bpmn", text)), "bad_assignment")
    assert (problem.element_id, problem.line) == ("t", line_of(text, "<bpmn:userTask"))
    assert "candidateUsers" in problem.message


def test_process_default_group_priority_due_date_and_form_of_camunda_8():
    form = '{"id": "f1", "type": "default", "components": []}'
    task = (
        '<bpmn:userTask id="t"><bpmn:extensionElements><zeebe:formDefinition formId="f1"/>'
        '<zeebe:taskSchedule dueDate="=deadline" followUpDate="2026-01-01T00:00:00Z"/>'
        '<zeebe:priorityDefinition priority="=urgency"/></bpmn:extensionElements></bpmn:userTask>'
    )
    text = _one_task(task).replace(
        'isExecutable="true">',
        'isExecutable="true"><bpmn:extensionElements>'
        '<pmoflow:assignment candidateGroups="Intake"/></bpmn:extensionElements>',
        1,
    )
    [parsed] = parse_deployment(
        [SourceFile("a.bpmn", text.encode()), SourceFile("f1.form", form.encode())], max_bytes=LIMIT
    ).processes
    [info] = parsed.user_tasks
    assert (info["default_group"], info["form"], info["priority"], info["sla"]["due"]) == (
        "Intake",
        "f1",
        "urgency",
        "deadline",
    )


def test_camunda_7_form_keys():
    form = '{"id": "f1", "type": "default", "components": []}'

    def deployed(attributes: str) -> str | None:
        text = _one_task(f'<bpmn:userTask id="t" {attributes}/>')
        [parsed] = parse_deployment(
            [SourceFile("a.bpmn", text.encode()), SourceFile("forms/f1.form", form.encode())], max_bytes=LIMIT
        ).processes
        return parsed.user_tasks[0]["form"]

    assert deployed('camunda:formKey="camunda-forms:deployment:f1"') == "f1"
    assert deployed('camunda:formKey="camunda-forms:app:forms/f1.form"') == "f1"
    assert deployed('camunda:formRef="f1" camunda:formRefBinding="latest"') == "f1"
    assert deployed('camunda:formKey="embedded:app:forms/approve.html"') is None  # not ours to render
    assert deployed('camunda:formKey="approveInvoice"') is None
    text = _one_task('<bpmn:userTask id="t" camunda:formKey="camunda-forms:deployment:nope"/>')
    assert only(problems_of(("a.bpmn", text)), "missing_form").element_id == "t"


def test_call_activity_with_missing_callee():
    text = linear(('<bpmn:callActivity id="call" calledElement="nowhere"/>\n', "call"))
    problem = only(problems_of(("call.bpmn", text)), "missing_callee")
    assert problem.element_id == "call"
    assert "'nowhere'" in problem.message


def test_decision_reference_that_does_not_resolve():
    task = (
        '<bpmn:businessRuleTask id="decide"><bpmn:extensionElements><pmoflow:decision ref="tier"/>'
        "</bpmn:extensionElements></bpmn:businessRuleTask>\n"
    )
    problem = only(problems_of(("d.bpmn", linear((task, "decide")))), "missing_decision")
    assert problem.element_id == "decide" and "'tier'" in problem.message


def test_expressions_that_do_not_compile():
    body = (
        '<bpmn:startEvent id="start"/>\n<bpmn:exclusiveGateway id="gw" default="f_b"/>\n'
        + script_task("s", "x = = 1")
        + '<bpmn:endEvent id="end"/>\n'
        + flow("f0", "start", "gw")
        + flow("f_a", "gw", "s", "budget &gt;&gt;&gt; 5")
        + flow("f_b", "gw", "end")
        + flow("f_c", "s", "end")
    )
    problems = problems_of(("e.bpmn", document(process(body))))
    bad = {p.element_id for p in problems if p.code == "bad_expression"}
    assert bad == {"f_a", "s"}


def test_missing_form_reference():
    problem = only(problems_of(("f.bpmn", one_approval(form="nope"))), "missing_form")
    assert problem.element_id == "approve"


def test_every_problem_is_reported_at_once():
    text = one_approval().replace("</bpmn:userTask>", "</bpmn:userTsk>")
    problems = problems_of(
        ("a.bpmn", text), ("b.bpmn", linear((user_task("t", form="nowhere"), "t"), pid="p2")), ("c.txt", "hello")
    )
    assert {p.file for p in problems} == {"a.bpmn", "b.bpmn", "c.txt"}


def test_non_executable_process_is_reported():
    text = document(process('<bpmn:startEvent id="start"/>', executable=False))
    assert only(problems_of(("ne.bpmn", text)), "not_executable").element_id == "p1"


def test_empty_deployment():
    with pytest.raises(DeploymentInvalid):
        parse_deployment([], max_bytes=LIMIT)


def test_a_process_with_lanes_in_a_collaboration_keeps_lane_names():
    body = user_task("a") + user_task("b")
    text = document(
        process(
            '<bpmn:startEvent id="start"/>'
            + body
            + '<bpmn:endEvent id="end"/>'
            + flow("f1", "start", "a")
            + flow("f2", "a", "b")
            + flow("f3", "b", "end"),
            lane("Finance", "a"),
            lane("Security", "b"),
        )
    )
    [parsed] = parse_deployment([SourceFile("l.bpmn", text.encode())], max_bytes=LIMIT).processes
    assert [(t["element_id"], t["lane"]) for t in parsed.user_tasks] == [("a", "Finance"), ("b", "Security")]
