"""What a task or start event refers to, read from its extension elements (ours, Camunda 7/8's, Spiff's):
its form, its decision and how the decision is bound, its static candidate groups."""

from __future__ import annotations

from lxml import etree

from engine.spiff.extensions.assignment import raw_assignment, translate, zeebe_form
from engine.spiff.extensions.camunda import called_decision
from engine.spiff.namespaces import CAMUNDA_NS, NS

CAMUNDA_FORMS = ("camunda-forms:deployment:", "camunda-forms:app:", "camunda-forms:bpmn:", "camunda-forms:")


def form_ref(node: etree._Element) -> str | None:
    """The form a task or start event names: pmoflow:form/@ref, Camunda 7's formRef or formKey, Camunda 8's
    zeebe:formDefinition formId or formKey (`camunda-forms:deployment:ID`, `...:app:PATH`, `...:bpmn:ID`).

    formRefBinding/formRefVersion are ignored: a form is always the one deployed with the process."""
    el = node.find("bpmn:extensionElements/pmoflow:form", NS)
    if el is not None and el.get("ref"):
        return el.get("ref")
    ref = node.get(f"{{{CAMUNDA_NS}}}formRef")
    if ref:
        return ref.strip()
    form_id, zeebe_key = zeebe_form(node)
    if form_id:
        return form_id
    key = (node.get(f"{{{CAMUNDA_NS}}}formKey") or zeebe_key or "").strip()
    for prefix in CAMUNDA_FORMS:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key or None


def loose_form_key(node: etree._Element) -> bool:
    """The node's form comes from a formKey that is not a Camunda form (an embedded HTML form, an app path,
    a key some tasklist reads): used when it names a form of the deployment, else ignored."""
    if (
        node.find("bpmn:extensionElements/pmoflow:form", NS) is not None
        or node.get(f"{{{CAMUNDA_NS}}}formRef")
        or zeebe_form(node)[0]
    ):
        return False
    key = (node.get(f"{{{CAMUNDA_NS}}}formKey") or zeebe_form(node)[1] or "").strip()
    return not key.startswith(CAMUNDA_FORMS[-1])


def start_form_ref(process: etree._Element) -> str | None:
    """The form of the process's first top-level start event that has one (pmoflow:form or Camunda's)."""
    for event in process.iterfind("bpmn:startEvent", NS):
        ref = form_ref(event)
        if ref:
            return ref
    return None


def candidate_groups(node: etree._Element) -> list[str]:
    """Explicit static candidate groups (pmoflow:assignment, camunda:candidateGroups, zeebe:assignmentDefinition);
    an expression gives none here (it is evaluated when the task starts)."""
    raw = raw_assignment(node).get("candidate_groups")
    try:
        value = translate(raw) if raw else []
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def decision_ref(node: etree._Element) -> str | None:
    """The decision a business rule task evaluates, in our namespace or Camunda's or Spiff's."""
    el = node.find("bpmn:extensionElements/pmoflow:decision", NS)
    if el is not None and el.get("ref"):
        return el.get("ref")
    ref = node.get(f"{{{CAMUNDA_NS}}}decisionRef")
    if ref:
        return ref
    spiff = node.findtext("bpmn:extensionElements/spiffworkflow:calledDecisionId", None, NS)
    return spiff.strip() if spiff else called_decision(node)


def decision_binding(node: etree._Element) -> tuple[str, int | None] | str:
    """("latest" | "deployment" | "version", the version) a business rule task binds its decision with
    (Camunda 7's camunda:decisionRefBinding/decisionRefVersion, Camunda 8's bindingType), or the problem."""
    zeebe = node.find("bpmn:extensionElements/zeebe:calledDecision", NS)
    camunda = (node.get(f"{{{CAMUNDA_NS}}}decisionRefBinding") or "").strip()
    kind = camunda or ((zeebe.get("bindingType") or "").strip() if zeebe is not None else "") or "latest"
    if kind in ("latest", "deployment"):
        return kind, None
    if kind == "version" and camunda:
        text = (node.get(f"{{{CAMUNDA_NS}}}decisionRefVersion") or "").strip()
        if text.isdigit() and int(text) > 0:
            return kind, int(text)
        return f'camunda:decisionRefBinding="version" needs camunda:decisionRefVersion as a number (got {text!r})'
    return (
        f"decision binding {kind!r} is not supported (use latest, deployment or version with "
        "camunda:decisionRefVersion)"
    )
