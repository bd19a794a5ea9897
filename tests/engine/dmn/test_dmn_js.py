"""A model as the dmn-js editor (Camunda Modeler) writes it evaluates as DMN 1.3 says."""

from __future__ import annotations

from .samples import models, run

# Exported from dmn-js: DMNDI shapes, requirement edges, annotations, descriptions, typed inputs.
PROJECT_INTAKE = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" xmlns:dmndi="https://www.omg.org/spec/DMN/20191111/DMNDI/"
    xmlns:dc="http://www.omg.org/spec/DMN/20180521/DC/" xmlns:di="http://www.omg.org/spec/DMN/20180521/DI/"
    xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="Definitions_intake" name="Project intake"
    namespace="http://camunda.org/schema/1.0/dmn" exporter="Camunda Modeler" exporterVersion="5.20.0"
    modeler:executionPlatform="Camunda Cloud" modeler:executionPlatformVersion="8.4.0">
  <decision id="Decision_priority" name="Intake priority">
    <informationRequirement id="InformationRequirement_1">
      <requiredDecision href="#Decision_score" />
    </informationRequirement>
    <informationRequirement id="InformationRequirement_2">
      <requiredInput href="#InputData_deadline" />
    </informationRequirement>
    <decisionTable id="DecisionTable_priority" hitPolicy="PRIORITY">
      <input id="Input_1" label="Score">
        <inputExpression id="InputExpression_1" typeRef="number">
          <text>score</text>
        </inputExpression>
      </input>
      <input id="Input_2" label="Deadline">
        <inputExpression id="InputExpression_2" typeRef="date">
          <text>deadline</text>
        </inputExpression>
      </input>
      <output id="Output_1" label="Priority" name="priority" typeRef="string">
        <outputValues id="UnaryTests_values">
          <text>"urgent","high","normal"</text>
        </outputValues>
      </output>
      <annotation name="Why" />
      <rule id="DecisionRule_urgent">
        <description>Due within a month</description>
        <inputEntry id="UnaryTests_1a"><text>-</text></inputEntry>
        <inputEntry id="UnaryTests_1b"><text>&lt;= date("2026-06-30")</text></inputEntry>
        <outputEntry id="LiteralExpression_1"><text>"urgent"</text></outputEntry>
        <annotationEntry><text>deadline first</text></annotationEntry>
      </rule>
      <rule id="DecisionRule_high">
        <inputEntry id="UnaryTests_2a"><text>&gt;= 70</text></inputEntry>
        <inputEntry id="UnaryTests_2b"><text></text></inputEntry>
        <outputEntry id="LiteralExpression_2"><text>"high"</text></outputEntry>
        <annotationEntry><text></text></annotationEntry>
      </rule>
      <rule id="DecisionRule_normal">
        <inputEntry id="UnaryTests_3a"><text>-</text></inputEntry>
        <inputEntry id="UnaryTests_3b"><text>-</text></inputEntry>
        <outputEntry id="LiteralExpression_3"><text>"normal"</text></outputEntry>
        <annotationEntry><text></text></annotationEntry>
      </rule>
    </decisionTable>
  </decision>
  <decision id="Decision_score" name="Business value score">
    <variable id="InformationItem_score" name="score" typeRef="number" />
    <informationRequirement id="InformationRequirement_3">
      <requiredInput href="#InputData_goals" />
    </informationRequirement>
    <literalExpression id="LiteralExpression_score">
      <text>sum(for goal in strategic goals return if goal.met then goal.weight else 0)</text>
    </literalExpression>
  </decision>
  <inputData id="InputData_goals" name="strategic goals" />
  <inputData id="InputData_deadline" name="deadline" />
  <textAnnotation id="TextAnnotation_1"><text>Scores come from the portfolio board</text></textAnnotation>
  <dmndi:DMNDI>
    <dmndi:DMNDiagram id="DMNDiagram_1">
      <dmndi:DMNShape id="DMNShape_priority" dmnElementRef="Decision_priority">
        <dc:Bounds height="80" width="180" x="160" y="100" />
      </dmndi:DMNShape>
      <dmndi:DMNEdge id="DMNEdge_1" dmnElementRef="InformationRequirement_1">
        <di:waypoint x="250" y="260" /><di:waypoint x="250" y="180" />
      </dmndi:DMNEdge>
    </dmndi:DMNDiagram>
  </dmndi:DMNDI>
</definitions>
"""

GOALS = [
    {"name": "revenue", "weight": 50, "met": True},
    {"name": "compliance", "weight": 30, "met": True},
    {"name": "nps", "weight": 20, "met": False},
]


def test_a_dmn_js_model_reads_as_feel_with_its_requirements():
    found = models(PROJECT_INTAKE)
    assert set(found) == {"Decision_priority", "Decision_score"}
    assert found["Decision_priority"].language() == "feel"
    assert [d.id for d in found["Decision_priority"].decisions] == ["Decision_score", "Decision_priority"]


def test_it_evaluates_as_the_standard_says():
    result = run(PROJECT_INTAKE, "Decision_priority", **{"strategic goals": GOALS, "deadline": "2026-09-01"})
    assert result.trace[0].outputs == {"score": 80}
    assert result.outputs == {"priority": "high"}  # PRIORITY: "high" beats "normal"
    assert [r.id for r in result.matched_rules] == ["DecisionRule_high"]
    soon = run(PROJECT_INTAKE, "Decision_priority", **{"strategic goals": GOALS, "deadline": "2026-05-01"})
    assert soon.outputs == {"priority": "urgent"}
    assert [r.description for r in soon.matched_rules] == ["Due within a month"]
