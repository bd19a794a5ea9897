"""DMN checks: every decision of a deployment's DMN files read by engine.dmn (every cell parsed) and its test
table run; what passes becomes a `ParsedDecision`, versioned on its own."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from engine.core.errors import Problem
from engine.dmn.compiler import compile_model
from engine.dmn.model import DecisionModel
from engine.dmn.reader import read_dmn
from engine.dmn.testcases import run_tests
from engine.spiff.expressions.sandbox import SandboxedEnvironment, check_expression
from engine.spiff.model.bpmn_checks import duplicate_ids
from engine.spiff.model.files import DeploymentFiles


@dataclass(frozen=True)
class ParsedDecision:
    """One decision with everything it requires, ready to be versioned."""

    key: str
    name: str
    dmn_file: str
    model: DecisionModel
    content_hash: str


def check_dmn(filename: str, root: etree._Element, index: DeploymentFiles) -> list[Problem]:
    """Read the file's decisions (every cell parsed); keeps the models in `index`."""
    problems = duplicate_ids(filename, root)
    dmn = read_dmn(filename, root, _python_check, index.dmn)  # the deployment's DMN files: what imports find
    index.dmn_lines[filename] = dmn.lines
    for model in dmn.models:
        index.models[model.decision] = model
    return problems + dmn.problems


def _python_check(source: str) -> str | None:
    return check_expression(source, "eval")


def decision_test_problems(index: DeploymentFiles) -> list[Problem]:
    """Run every decision's test table; each failing row is a problem naming the test."""
    problems = []
    sandbox = SandboxedEnvironment()
    for model in index.models.values():
        if not model.top.tests:
            continue
        lines = index.dmn_lines.get(model.file, {})
        for failure in run_tests(compile_model(model), python=sandbox):
            element = failure.test.id or failure.decision
            problems.append(
                Problem(failure.describe(), model.file, element, lines.get(element), "decision_test_failed")
            )
    return problems


def parsed_decisions(index: DeploymentFiles) -> list[ParsedDecision]:
    """The deployment's decisions, each ready to be versioned."""
    return [
        ParsedDecision(key=m.decision, name=m.name, dmn_file=m.file, model=m, content_hash=m.content_hash())
        for m in index.models.values()
    ]
