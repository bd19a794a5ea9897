"""Deploy-time structure: sub-process scopes, timer values, structural problems with element id and line."""

from __future__ import annotations

import json

import pytest

from engine.errors import DeploymentInvalid, Problem
from engine.spiff.parsing import SourceFile, parse_deployment
from tests.bpmn_samples import document, flow, process

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
    inner = sub("inner", '<bpmn:startEvent id="is"/>\n<bpmn:userTask id="deep"/>\n<bpmn:endEvent id="ie"/>\n'
                + flow("i1", "is", "deep") + flow("i2", "deep", "ie"))
    outer = sub("outer", '<bpmn:startEvent id="os"/>\n<bpmn:userTask id="mid"/>\n' + inner
                + '<bpmn:endEvent id="oe"/>\n' + flow("o1", "os", "mid") + flow("o2", "mid", "inner")
                + flow("o3", "inner", "oe"))
    text = document(process('<bpmn:startEvent id="start"/>\n' + outer + '<bpmn:endEvent id="end"/>\n'
                            + flow("f1", "start", "outer") + flow("f2", "outer", "end")))
    tasks = {t["element_id"]: t["process"] for t in parsed(text).user_tasks}
    assert tasks == {"mid": "outer", "deep": "inner"}


@pytest.mark.parametrize("tag", ["subProcess", "transaction"])
def test_sub_processes_and_transactions_build(tag):
    body = sub("s", '<bpmn:startEvent id="ss"/>\n<bpmn:endEvent id="se"/>\n' + flow("s1", "ss", "se"), tag)
    text = document(process('<bpmn:startEvent id="start"/>\n' + body + '<bpmn:endEvent id="end"/>\n'
                            + flow("f1", "start", "s") + flow("f2", "s", "end")))
    spec = json.loads(parsed(text).spec_json)
    assert set(spec["subprocess_specs"]) == {"s"}


@pytest.mark.parametrize(("kind", "value"), [
    ("timeDuration", "PT1S"), ("timeDuration", "P7D"), ("timeDuration", "\n   PT1S\n  "),
    ("timeDuration", '"PT1S"'), ("timeCycle", "R4/PT1S"), ("timeDate", "2026-01-01T00:00:00Z"),
    ("timeDate", "'2026-01-01T00:00:00Z'"),
])
def test_iso_timer_values_with_or_without_quotes_become_string_literals(kind, value):
    timer = (f'<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition id="td">'
             f"<bpmn:{kind}>{value}</bpmn:{kind}></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>\n")
    text = document(process('<bpmn:startEvent id="start"/>\n' + timer + '<bpmn:endEvent id="end"/>\n'
                            + flow("f1", "start", "wait") + flow("f2", "wait", "end")))
    spec = json.loads(parsed(text).spec_json)
    expression = spec["spec"]["task_specs"]["wait"]["event_definition"]["expression"]
    assert expression.strip("'\"") == value.strip().strip("'\"") and expression[0] in "'\""
