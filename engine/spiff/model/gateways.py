"""Exclusive and inclusive gateways with sequence flows that have no condition, as BPMN 2.0 runs them.

BPMN 2.0: a sequence flow without a conditionExpression places a token unconditionally. Leaving
an inclusive gateway it is always taken (with the others whose condition holds); leaving an
exclusive gateway the flows are tried in the order the model defines them and the first whose
condition holds, or that has none, is taken (Camunda 7 does the same); the default flow only
when no other is taken. SpiffWorkflow refuses such flows at parse time and tries an exclusive
gateway's flows in the order of their targets' y coordinates; this parser gives an unconditioned
flow the condition `True` and keeps the model's order.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.task_parsers import ConditionalGatewayParser

ALWAYS = "True"


class GatewayParser(ConditionalGatewayParser):
    """Spiff's gateway parser: unconditioned flows are always taken, flows tried in document order."""

    def parse_node(self) -> Any:
        self._order: dict[str, int] = {}
        task = super().parse_node()
        outputs = getattr(self.task, "cond_task_specs", None)
        if outputs:
            outputs.sort(key=lambda pair: self._order.get(pair[1], len(self._order)))
        return task

    def connect_outgoing(self, outgoing_task: Any, sequence_flow_node: etree._Element, is_default: bool) -> None:
        self._order.setdefault(outgoing_task.name, _document_index(sequence_flow_node))
        if is_default or self.parse_condition(sequence_flow_node) is not None:
            super().connect_outgoing(outgoing_task, sequence_flow_node, is_default)
        else:
            self.task.connect_outgoing_if(ALWAYS, outgoing_task)


def _document_index(flow: etree._Element) -> int:
    parent = flow.getparent()
    return parent.index(flow) if parent is not None else 0
