"""Deploy checks of BPMN events (engine.spiff.model.events): what would fail or hang at run time is a
problem naming the element and line; nothing crashes the parser."""

from __future__ import annotations

import pytest

from engine.core.errors import DeploymentInvalid
from engine.spiff.model.events import bare_iso, timer_expression
from engine.spiff.model.parsing import parse_deployment
from tests.bpmn_samples import HEAD, flow, process
from tests.conftest import ROOT
from tests.factories import source

REFUSED = ROOT / "tests" / "models" / "refused"  # models deploy refuses (not run to the end)


def problems_of(body: str, extra: str = "") -> list[tuple[str | None, str]]:
    document = HEAD + extra + process(body, pid="ev") + "</bpmn:definitions>\n"
    with pytest.raises(DeploymentInvalid) as err:
        parse_deployment([source("ev.bpmn", document)], max_bytes=1_000_000)
    assert all(p.line for p in err.value.problems if p.element_id)
    return [(p.element_id, p.message) for p in err.value.problems]


def around(middle: str, first: str, last: str) -> str:
    return (
        '<bpmn:startEvent id="s"/>'
        + middle
        + '<bpmn:endEvent id="e"/>'
        + flow("f1", "s", first)
        + flow("f2", last, "e")
    )


@pytest.mark.parametrize(
    ("body", "element", "words"),
    [
        (
            around(
                '<bpmn:intermediateThrowEvent id="c"><bpmn:compensateEventDefinition/></bpmn:intermediateThrowEvent>',
                "c",
                "c",
            ),
            "c",
            "compensation",
        ),
        (around('<bpmn:intermediateCatchEvent id="c"/>', "c", "c"), "c", "wait for nothing"),
        (
            around('<bpmn:task id="t"/><bpmn:boundaryEvent id="b" attachedToRef="t"/>', "t", "t"),
            "b",
            "wait for nothing",
        ),
        (
            around(
                '<bpmn:intermediateThrowEvent id="l"><bpmn:linkEventDefinition name="A"/></bpmn:intermediateThrowEvent>'
                '<bpmn:intermediateCatchEvent id="k"><bpmn:linkEventDefinition name="B"/></bpmn:intermediateCatchEvent>',
                "k",
                "k",
            ),
            "l",
            "no link catch event",
        ),
        (around('<bpmn:endEvent id="x"><bpmn:cancelEventDefinition/></bpmn:endEvent>', "x", "x"), "x", "transaction"),
        (
            around(
                '<bpmn:intermediateCatchEvent id="c"><bpmn:conditionalEventDefinition><bpmn:condition>a ==</bpmn:condition>'
                "</bpmn:conditionalEventDefinition></bpmn:intermediateCatchEvent>",
                "c",
                "c",
            ),
            "c",
            "does not compile",
        ),
        (
            around(
                '<bpmn:intermediateCatchEvent id="c"><bpmn:signalEventDefinition signalRef="nope"/>'
                "</bpmn:intermediateCatchEvent>",
                "c",
                "c",
            ),
            "c",
            "names no bpmn:signal",
        ),
        (
            '<bpmn:startEvent id="s"><bpmn:errorEventDefinition/></bpmn:startEvent><bpmn:endEvent id="e"/>'
            + flow("f1", "s", "e"),
            "s",
            "event sub-processes",
        ),
        (
            around(
                '<bpmn:intermediateThrowEvent id="x"><bpmn:errorEventDefinition/></bpmn:intermediateThrowEvent>',
                "x",
                "x",
            ),
            "x",
            "not allowed",
        ),
        (
            around(
                '<bpmn:subProcess id="sp"><bpmn:startEvent id="ss"/></bpmn:subProcess>'
                '<bpmn:subProcess id="esp" triggeredByEvent="true"><bpmn:startEvent id="es"/></bpmn:subProcess>',
                "sp",
                "sp",
            ),
            "es",
            "needs a trigger",
        ),
    ],
)
def test_event_problems_name_the_element(body, element, words):
    found = problems_of(body)
    assert any(e == element and words in m for e, m in found), found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT1S", '"PT1S"'),
        ("  P7D\n", '"P7D"'),
        ("R4/PT1S", '"R4/PT1S"'),
        ("R/P1D", '"R/P1D"'),
        ("2026-01-05T10:00:00Z", '"2026-01-05T10:00:00Z"'),
        ("R2/2026-01-05T10:00:00Z/PT1H", '"R2/2026-01-05T10:00:00Z/PT1H"'),
        ('"PT1H"', '"PT1H"'),
        ("'PT1H'", "'PT1H'"),
        ("delay", "delay"),
        ("PT", "PT"),
    ],
)
def test_timer_values_with_or_without_quotes(text, expected):
    assert timer_expression(text) == expected
    assert bare_iso("P1DT2H") and not bare_iso("P") and not bare_iso("P1D + x")


def test_zero_period_timer_cycles_are_deploy_problems_naming_element_and_line():
    """A cycle repeating after no time fired at every worker round, forever (R/PT0S as Camunda Modeler
    writes it, R5/PT0S wrapped in newlines, a quoted start/period with a zero period)."""
    path = REFUSED / "zero_cycle_timers.bpmn"
    text = path.read_text()
    with pytest.raises(DeploymentInvalid) as err:
        parse_deployment([source(path.name, text)], max_bytes=1_000_000)
    found = [(p.code, p.file, p.element_id, p.line) for p in err.value.problems]
    line_after = {
        d: text[: text.index(f'id="{d}"')].count("\n") + 2
        for d in (  # its bpmn:timeCycle
            "TimerEventDefinition_Start",
            "TimerEventDefinition_Remind",
            "TimerEventDefinition_Wait",
        )
    }
    events = ("StartEvent_Every", "Remind", "Wait")  # the problem names the event on the diagram
    assert found == [("bad_timer", path.name, e, line) for e, line in zip(events, line_after.values(), strict=True)]
    assert all("at least one second" in p.message for p in err.value.problems)


@pytest.mark.parametrize(
    "cycle",
    [
        "R/PT0S",
        "R5/PT0S",
        " R/PT0S\n",
        '"R/PT0S"',
        "'R5/PT0S'",
        "R/P0D",
        "R/PT0.5S",
        "R/P0Y0M0DT0H0M0S",
        "R3/2026-01-05T10:00:00Z/PT0S",
        "R/PT0S/2026-01-05T10:00:00Z",
    ],
)
def test_a_cycle_shorter_than_a_second_is_refused(cycle):
    found = problems_of(
        around(
            '<bpmn:intermediateCatchEvent id="w"><bpmn:timerEventDefinition>'
            f"<bpmn:timeCycle>{cycle}</bpmn:timeCycle></bpmn:timerEventDefinition>"
            "</bpmn:intermediateCatchEvent>",
            "w",
            "w",
        )
    )
    assert [e for e, m in found if "at least one second" in m] == ["w"], found


@pytest.mark.parametrize("cycle", ["R/PT1S", "R3/PT10M", '"R/P1D"', "R2/2026-01-05T10:00:00Z/PT1H"])
def test_a_cycle_of_a_second_or_more_deploys(cycle):
    body = around(
        '<bpmn:intermediateCatchEvent id="w"><bpmn:timerEventDefinition>'
        f"<bpmn:timeCycle>{cycle}</bpmn:timeCycle></bpmn:timerEventDefinition>"
        "</bpmn:intermediateCatchEvent>",
        "w",
        "w",
    )
    [parsed] = parse_deployment(
        [source("ev.bpmn", HEAD + process(body, pid="ev") + "</bpmn:definitions>\n")], max_bytes=1_000_000
    ).processes
    assert parsed.key == "ev"
