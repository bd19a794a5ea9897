"""Camunda 7/8 expression slots and mappings rewritten at deploy (engine.spiff.extensions.camunda)."""

from __future__ import annotations

import pytest
from lxml import etree

from engine.core.errors import DeploymentInvalid
from engine.spiff.expressions.limits import SandboxError
from engine.spiff.expressions.sandbox import SandboxedEnvironment
from engine.spiff.extensions.camunda import translate_model
from engine.spiff.model.parsing import SourceFile, parse_deployment
from engine.spiff.namespaces import NS
from tests.designer.miwg import CORPUS as MIWG

HEAD = (
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="t"{attrs}>'
    '<bpmn:process id="p" isExecutable="true">{body}</bpmn:process></bpmn:definitions>'
)


def tree(body: str, attrs: str = "") -> etree._Element:
    return etree.fromstring(HEAD.format(body=body, attrs=attrs).encode())


def text_of(root: etree._Element, xpath: str) -> str:
    return root.xpath(xpath, namespaces=NS)[0].text


def evaluate(python: str, data: dict) -> object:
    return SandboxedEnvironment().evaluate(python, data)


def test_timer_values_in_feel_and_juel_become_python():
    root = tree(
        '<bpmn:intermediateCatchEvent id="t1"><bpmn:timerEventDefinition id="td1">'
        '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">=duration("PT1H") * 2</bpmn:timeDuration>'
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
        '<bpmn:intermediateCatchEvent id="t2"><bpmn:timerEventDefinition id="td2">'
        "<bpmn:timeDuration>${delay}</bpmn:timeDuration></bpmn:timerEventDefinition>"
        "</bpmn:intermediateCatchEvent>"
        '<bpmn:intermediateCatchEvent id="t3"><bpmn:timerEventDefinition id="td3">'
        "<bpmn:timeCycle>R3/PT10M</bpmn:timeCycle></bpmn:timerEventDefinition>"
        "</bpmn:intermediateCatchEvent>"
    )
    assert translate_model("m.bpmn", root) == []
    assert evaluate(text_of(root, "//bpmn:intermediateCatchEvent[@id='t1']//bpmn:timeDuration"), {}) == "PT2H"
    assert text_of(root, "//bpmn:intermediateCatchEvent[@id='t2']//bpmn:timeDuration") == "delay"
    assert text_of(root, "//bpmn:timeCycle") == "R3/PT10M"  # bare ISO: left to the timer checks


def test_conditional_event_conditions_are_translated():
    root = tree(
        '<bpmn:intermediateCatchEvent id="c1"><bpmn:conditionalEventDefinition id="cd1">'
        '<bpmn:condition xsi:type="bpmn:tFormalExpression">${ready &amp;&amp; count gt 2}</bpmn:condition>'
        "</bpmn:conditionalEventDefinition></bpmn:intermediateCatchEvent>"
    )
    assert translate_model("m.bpmn", root) == []
    assert text_of(root, "//bpmn:condition") == "(ready and (count > 2))"


def test_the_definitions_expression_language_decides_and_xpath_is_the_subset():
    flow = (
        '<bpmn:sequenceFlow id="f1" sourceRef="a" targetRef="b"><bpmn:conditionExpression '
        'xsi:type="bpmn:tFormalExpression">{}</bpmn:conditionExpression></bpmn:sequenceFlow>'
    )
    feel = tree(flow.format('status = "ok"'), ' expressionLanguage="https://www.omg.org/spec/DMN/20191111/FEEL/"')
    assert translate_model("m.bpmn", feel) == []
    python = text_of(feel, "//bpmn:conditionExpression")
    assert evaluate(python, {"status": "ok"}) is True
    assert feel.xpath("//bpmn:conditionExpression/@language", namespaces=NS) == ["python"]
    xpath = tree(flow.format("status == 'ok'"), ' expressionLanguage="http://www.w3.org/1999/XPath"')
    assert translate_model("m.bpmn", xpath) == []
    assert evaluate(text_of(xpath, "//bpmn:conditionExpression"), {"status": "ok"}) is True


def test_an_element_language_we_do_not_run_is_a_problem():
    root = tree(
        '<bpmn:sequenceFlow id="f1" sourceRef="a" targetRef="b"><bpmn:conditionExpression '
        'xsi:type="bpmn:tFormalExpression" language="javascript">a &gt; 1</bpmn:conditionExpression>'
        "</bpmn:sequenceFlow>"
    )
    [problem] = translate_model("m.bpmn", root)
    assert problem.element_id == "f1" and "javascript" in problem.message


def test_camunda_collection_becomes_a_loop_data_input_in_schema_order():
    root = tree(
        '<bpmn:userTask id="u"><bpmn:multiInstanceLoopCharacteristics camunda:collection="${reviewers}" '
        'camunda:elementVariable="reviewer"><bpmn:completionCondition>${approved}</bpmn:completionCondition>'
        "</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>"
    )
    assert translate_model("m.bpmn", root) == []
    mi = root.find(".//bpmn:multiInstanceLoopCharacteristics", NS)
    assert [etree.QName(c).localname for c in mi] == ["loopDataInputRef", "inputDataItem", "completionCondition"]
    assert mi[0].text == "reviewers" and mi[1].get("id") == "reviewer"
    assert mi[2].text == "approved"


def test_a_collection_that_is_not_a_variable_is_a_problem():
    root = tree(
        '<bpmn:userTask id="u"><bpmn:multiInstanceLoopCharacteristics camunda:collection="${a.b}"/></bpmn:userTask>'
    )
    [problem] = translate_model("m.bpmn", root)
    assert problem.element_id == "u" and "${a.b}" in problem.message


def test_input_output_on_a_script_task_wraps_the_script():
    root = tree(
        '<bpmn:scriptTask id="s" scriptFormat="python"><bpmn:extensionElements><camunda:inputOutput>'
        '<camunda:inputParameter name="x">${a + 1}</camunda:inputParameter>'
        '<camunda:outputParameter name="z">${y * 2}</camunda:outputParameter>'
        "</camunda:inputOutput></bpmn:extensionElements><bpmn:script>y = x * 10</bpmn:script>"
        "</bpmn:scriptTask>"
    )
    assert translate_model("m.bpmn", root) == []
    data = {"a": 1}
    SandboxedEnvironment().execute(text_of(root, "//bpmn:script"), data)
    assert data == {"a": 1, "x": 2, "y": 20, "z": 40}


def test_mappings_join_existing_spiff_pre_and_post_scripts():
    root = tree(
        '<bpmn:userTask id="u"><bpmn:extensionElements>'
        "<spiffworkflow:preScript>b = a</spiffworkflow:preScript>"
        '<zeebe:ioMapping><zeebe:input source="=1" target="a"/><zeebe:output source="=b + 1" target="c"/>'
        "</zeebe:ioMapping></bpmn:extensionElements></bpmn:userTask>"
    )
    assert translate_model("m.bpmn", root) == []
    assert text_of(root, "//spiffworkflow:preScript") == "a = feel('1')\nb = a"
    assert text_of(root, "//spiffworkflow:postScript") == "c = feel('b + 1')"


def test_dotted_and_spaced_targets_set_nested_values_and_names_with_spaces():
    root = tree(
        '<bpmn:userTask id="u"><bpmn:extensionElements><zeebe:ioMapping>'
        '<zeebe:input source="demo@acme.example" target="from.email"/>'
        '<zeebe:input source="=name" target="from.name"/>'
        '<zeebe:output source="=1" target="Current Vacation Status"/>'
        "</zeebe:ioMapping></bpmn:extensionElements></bpmn:userTask>"
    )
    assert translate_model("m.bpmn", root) == []
    data = {"name": "Ann", "from": None}
    SandboxedEnvironment().execute(text_of(root, "//spiffworkflow:preScript"), data)
    assert data["from"] == {"email": "demo@acme.example", "name": "Ann"}
    SandboxedEnvironment().execute(text_of(root, "//spiffworkflow:postScript"), data)
    assert data["Current Vacation Status"] == 1
    with pytest.raises(SandboxError, match="'name' is not an object"):
        SandboxedEnvironment().execute("set_var('name.first', 1)", {"name": "Ann"})


@pytest.mark.parametrize(
    ("mapping", "reason"),
    [
        ('<zeebe:input source="=x" target="a._b"/>', "'a._b'"),
        ('<zeebe:input source="=x" target="a..b"/>', "'a..b'"),
        ('<zeebe:input source="=x" target="a[0]"/>', "'a[0]'"),
        ('<zeebe:input source="=x +" target="a"/>', "'=x +'"),
    ],
)
def test_bad_mappings_are_problems(mapping: str, reason: str):
    root = tree(
        f'<bpmn:userTask id="u"><bpmn:extensionElements><zeebe:ioMapping>{mapping}</zeebe:ioMapping>'
        "</bpmn:extensionElements></bpmn:userTask>"
    )
    [problem] = translate_model("m.bpmn", root)
    assert problem.element_id == "u" and reason in problem.message


def test_a_computed_called_process_is_a_problem_and_a_literal_is_read():
    root = tree(
        '<bpmn:callActivity id="c1"><bpmn:extensionElements><zeebe:calledElement processId="=target"/>'
        "</bpmn:extensionElements></bpmn:callActivity>"
        '<bpmn:callActivity id="c2"><bpmn:extensionElements><zeebe:calledElement processId="sub"/>'
        "</bpmn:extensionElements></bpmn:callActivity>"
    )
    [problem] = translate_model("m.bpmn", root)
    assert problem.element_id == "c1" and problem.code == "unsupported_call"
    assert root.xpath("//bpmn:callActivity[@id='c2']/@calledElement", namespaces=NS) == ["sub"]


def test_stored_files_keep_their_original_text():
    text = HEAD.format(
        attrs="",
        body=(
            '<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="g"/>'
            '<bpmn:exclusiveGateway id="g" default="f2"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="g" targetRef="e1"><bpmn:conditionExpression '
            'xsi:type="bpmn:tFormalExpression">=x &gt; 1</bpmn:conditionExpression></bpmn:sequenceFlow>'
            '<bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="e2"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>'
        ),
    )
    [parsed] = parse_deployment([SourceFile("m.bpmn", text.encode())], max_bytes=100_000).processes
    assert "feel('x > 1')" in parsed.spec_json and parsed.files == ("m.bpmn",)


@pytest.mark.skipif(not (MIWG / "C.8.1.bpmn").exists(), reason="MIWG corpus not beside the checkout")
def test_miwg_feel_conditions_with_multi_word_names_compile():
    root = etree.parse(str(MIWG / "C.8.1.bpmn")).getroot()
    problems = [p for p in translate_model("C.8.1.bpmn", root) if "FEEL" in p.message]
    assert problems == []
    conditions = root.xpath("//bpmn:conditionExpression", namespaces=NS)
    assert conditions and all(c.text.startswith("feel(") for c in conditions)


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ('calledElement="${processKey}"', "computed at run time"),
        ('calledElement="sub" camunda:variableMappingClass="org.Acme"', "needs Java"),
        ('calledElement="sub" camunda:calledElementBinding="versionTag"', "versionTag"),
        ('calledElement="sub" camunda:calledElementBinding="version"', "needs a version number"),
        ('calledElement="elsewhere"', "not in this deployment"),
    ],
)
def test_call_activities_pmoflow_cannot_run_are_deploy_problems(attributes: str, reason: str):
    text = HEAD.format(
        attrs="",
        body=(
            f'<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="c"/>'
            f'<bpmn:callActivity id="c" {attributes}/><bpmn:sequenceFlow id="f2" sourceRef="c" targetRef="e"/>'
            f'<bpmn:endEvent id="e"/>'
        ),
    ).replace('id="p" isExecutable="true">', 'id="main" isExecutable="true">')
    sub = (
        HEAD.format(attrs="", body='<bpmn:startEvent id="s2"/>')
        .replace('id="p"', 'id="sub"')
        .replace('id="d"', 'id="d2"')
    )
    with pytest.raises(DeploymentInvalid) as info:
        parse_deployment([SourceFile("m.bpmn", text.encode()), SourceFile("sub.bpmn", sub.encode())], max_bytes=100_000)
    [problem] = [p for p in info.value.problems if p.element_id == "c"]
    assert reason in problem.message and problem.file == "m.bpmn"


def test_expressions_without_an_xsi_type_stay_valid_bpmn_after_the_rewrite():
    text = HEAD.format(
        attrs="",
        body=(
            '<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t1"/>'
            '<bpmn:intermediateCatchEvent id="t1"><bpmn:timerEventDefinition id="td">'
            "<bpmn:timeDuration>${delay}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
            '<bpmn:sequenceFlow id="f2" sourceRef="t1" targetRef="e"/><bpmn:endEvent id="e"/>'
        ),
    )
    [parsed] = parse_deployment([SourceFile("m.bpmn", text.encode())], max_bytes=100_000).processes
    assert parsed.key == "p"
