"""The executable MIWG reference models (Camunda 7 and 8, Trisotech, Signavio, itp) deploy and start unchanged.

They were written by other tools for the BPMN Model Interchange Working Group, not for pmoflow:
lane-less user tasks, `${}` and `=` FEEL conditions, Java delegates, Trisotech HTTP operations,
call activities across files. Each must deploy as it is and start an instance that runs until
its first wait, with no incident. The non-executable ones give clear problems, never a crash.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.errors import DeploymentInvalid
from engine.definitions import deployments
from engine.runtime import instances
from engine.spiff.model.parsing import SourceFile
from tests.designer.miwg import CORPUS, MIWG
from tests.factories import ADMIN, BOT

pytestmark = pytest.mark.skipif(not MIWG, reason="the MIWG corpus is not on this machine")

# files deployed together (call activities across files), and the process each start begins with
EXECUTABLE = {
    "C.1.0": (("C.1.0.bpmn",), "bpmn-miwg-test-case-c.1.0"),
    "C.1.1": (("C.1.1.bpmn",), "handle-invoice"),
    "C.3.0": (("C.3.0.bpmn",), "_8170787a-3207-434d-9bea-4787059f444f"),
    "C.8.1": (("C.8.1.bpmn",), "VacationRequestProcess"),
    "C.9": (("C.9.0.bpmn", "C.9.1.bpmn", "C.9.2.bpmn"), "customer_onboarding_en"),
}


# C.9.0 calls decision risk_check, which the corpus does not ship: Camunda deploys DMN on its own, so it is
# published first, in a deployment of its own (tests/models/miwg/risk_check.dmn: what C.9.0 passes and reads)
DECISIONS_FIRST = {"C.9": Path(__file__).resolve().parents[2] / "models" / "miwg" / "risk_check.dmn"}


def _files(names: tuple[str, ...]) -> list[SourceFile]:
    return [SourceFile(n, (CORPUS / n).read_bytes()) for n in names]


@pytest.mark.parametrize("case", sorted(EXECUTABLE))
def test_executable_reference_model_deploys_and_starts(ctx, case):
    names, process = EXECUTABLE[case]
    if case in DECISIONS_FIRST:
        dmn = DECISIONS_FIRST[case]
        deployments.deploy(ctx, ADMIN, [SourceFile(dmn.name, dmn.read_bytes())], None)
    deployed = deployments.deploy(ctx, ADMIN, _files(names), None)
    assert process in {d.key for d in deployed.definitions}
    view = instances.start(ctx, BOT, process, business_key=f"miwg-{case}", variables={})
    assert view.status == "running", (view.status, view.error)
    assert view.error is None


def test_non_executable_reference_models_give_problems_not_errors(ctx):
    executable = {n for names, _ in EXECUTABLE.values() for n in names}
    for path in MIWG:
        if path.name in executable:
            continue
        with pytest.raises(DeploymentInvalid) as refused:
            deployments.deploy(ctx, ADMIN, _files((path.name,)), None)
        assert refused.value.problems, path.name
        assert all(p.message for p in refused.value.problems)
