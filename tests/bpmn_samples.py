"""Small BPMN documents for tests, built from readable pieces."""

from __future__ import annotations

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:pmoflow="https://pmoflow.dev/schema/bpmn/1.0"
    id="defs" targetNamespace="https://pmoflow.dev/test">
"""


def lane(name: str, *refs: str, lane_id: str | None = None) -> str:
    nodes = "".join(f"<bpmn:flowNodeRef>{r}</bpmn:flowNodeRef>" for r in refs)
    return f'<bpmn:lane id="{lane_id or "lane_" + name.replace(" ", "_")}" name="{name}">{nodes}</bpmn:lane>'


def process(body: str, *lanes: str, pid: str = "p1", executable: bool = True, name: str = "Test") -> str:
    lane_set = f'<bpmn:laneSet id="ls_{pid}">{"".join(lanes)}</bpmn:laneSet>\n' if lanes else ""
    return (
        f'<bpmn:process id="{pid}" name="{name}" isExecutable="{"true" if executable else "false"}">\n'
        f"{lane_set}{body}\n</bpmn:process>\n"
    )


def document(*processes: str) -> str:
    return HEAD + "".join(processes) + "</bpmn:definitions>\n"


def flow(fid: str, source: str, target: str, condition: str | None = None) -> str:
    if condition is None:
        return f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}"/>\n'
    return (
        f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}">'
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>'
        f"</bpmn:sequenceFlow>\n"
    )


def user_task(tid: str, name: str = "", form: str | None = None) -> str:
    ext = f'<bpmn:extensionElements><pmoflow:form ref="{form}"/></bpmn:extensionElements>' if form else ""
    return f'<bpmn:userTask id="{tid}" name="{name or tid}">{ext}</bpmn:userTask>\n'


def script_task(tid: str, script: str) -> str:
    return f'<bpmn:scriptTask id="{tid}" name="{tid}"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>\n'


def linear(*tasks_and_ids: tuple[str, str], pid: str = "p1", lanes: tuple[str, ...] = ()) -> str:
    """start -> each (xml, id) in order -> end, as one process document."""
    body = '<bpmn:startEvent id="start"/>\n'
    previous = "start"
    for i, (xml, tid) in enumerate(tasks_and_ids):
        body += xml + flow(f"f{i}", previous, tid)
        previous = tid
    body += '<bpmn:endEvent id="end"/>\n' + flow("f_end", previous, "end")
    return document(process(body, *lanes, pid=pid))


def one_approval(lane_name: str = "IT Manager", form: str | None = None, pid: str = "p1") -> str:
    """start -> user task 'approve' in a lane -> end."""
    return linear((user_task("approve", "Approve", form), "approve"), pid=pid, lanes=(lane(lane_name, "approve"),))


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1
