"""The XML vocabulary the adapter reads: namespaces, and the BPMN element names the checks know."""

from __future__ import annotations

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
PMOFLOW_NS = "https://pmoflow.dev/schema/bpmn/1.0"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = {
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
}
NS = {"bpmn": BPMN_NS, "pmoflow": PMOFLOW_NS, "camunda": CAMUNDA_NS, "spiffworkflow": SPIFF_NS, "zeebe": ZEEBE_NS}

FLOW_NODES = {
    "task",
    "userTask",
    "manualTask",
    "scriptTask",
    "serviceTask",
    "businessRuleTask",
    "sendTask",
    "receiveTask",
    "subProcess",
    "transaction",
    "callActivity",
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "exclusiveGateway",
    "inclusiveGateway",
    "parallelGateway",
    "eventBasedGateway",
}
OTHER_PROCESS_CHILDREN = {
    "sequenceFlow",
    "laneSet",
    "dataObject",
    "dataObjectReference",
    "dataStoreReference",
    "textAnnotation",
    "association",
    "group",
    "ioSpecification",
    "property",
    "documentation",
    "extensionElements",
    "auditing",
    "monitoring",
    "supports",
    "correlationSubscription",
    "standardLoopCharacteristics",
    "multiInstanceLoopCharacteristics",
    "incoming",
    "outgoing",
    "dataInputAssociation",
    "dataOutputAssociation",
    "resourceRole",
    "performer",
    "potentialOwner",
    "humanPerformer",
    "rendering",
}
HUMAN_TASKS = {"userTask", "manualTask"}
SUB_SCOPES = ("subProcess", "transaction", "adHocSubProcess")
