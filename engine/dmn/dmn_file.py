"""A DMN file being read: what it holds, the elements of it and its imports, the context of reading.

`DmnFile` is what engine.dmn.reader.read_dmn answers (a model per decision, every problem,
the line of every element id); `Drg` collects the elements of a file and of the files it
imports; `FileContext` is one file's namespace, default language and import name, with the
helpers every element reader uses (tags, references, typeRefs, cells).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from engine.core.errors import Problem
from engine.dmn.expressions import AUTO, FEEL, PYTHON, Cell
from engine.dmn.model import BusinessKnowledgeModel, Decision, DecisionModel, DecisionService, InputData, ItemDefinition

PMOFLOW_NS = "https://pmoflow.dev/schema/bpmn/1.0"
EXPRESSIONS = frozenset(
    {
        "literalExpression",
        "decisionTable",
        "context",
        "invocation",
        "list",
        "relation",
        "functionDefinition",
        "conditional",
        "filter",
        "for",
        "every",
        "some",
    }
)


@dataclass
class DmnFile:
    """What one DMN file holds: a model per decision, problems, and the line of every element id."""

    filename: str
    models: list[DecisionModel] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)

    def problem(
        self, message: str, element_id: str | None, code: str = "invalid_decision", line: int | None = None
    ) -> None:
        where = line if line is not None else self.lines.get(element_id or "")
        self.problems.append(Problem(message, self.filename, element_id, where, code))


@dataclass
class Drg:
    """The elements of a file and of the files it imports (imported ones under `namespace#id`)."""

    decisions: dict[str, Decision] = field(default_factory=dict)
    input_data: dict[str, InputData] = field(default_factory=dict)
    bkms: dict[str, BusinessKnowledgeModel] = field(default_factory=dict)
    services: dict[str, DecisionService] = field(default_factory=dict)
    items: dict[str, ItemDefinition] = field(default_factory=dict)
    namespaces: set[str] = field(default_factory=set)  # of the file and the files it imports
    prefixes: dict[str, str] = field(default_factory=dict)  # namespace -> the import path it was read under
    aliases: dict[str, str] = field(default_factory=dict)  # another import path of a file read once -> the first


def element_lines(root: etree._Element) -> dict[str, int]:
    """The line of every element id (and of the name of a decision or BKM without an id: its key)."""
    lines = {el_id: el.sourceline or 0 for el in root.iter() if isinstance(el.tag, str) and (el_id := el.get("id"))}
    for el in root:
        if isinstance(el.tag, str) and not el.get("id") and (name := el.get("name")):
            lines.setdefault(name, el.sourceline or 0)
    return lines


class FileContext:
    """The file being read: its DMN namespace, default language, the import name its elements are seen under
    ("" for the file deployed), and where problems go."""

    def __init__(self, root: etree._Element, result: DmnFile, drg: Drg, prefix: str = "") -> None:
        self.ns = etree.QName(root).namespace
        self.namespace = root.get("namespace") or ""
        self.result = result
        self.drg = drg
        self.prefix = prefix
        self.local_items = {el.get("name") or "" for el in root.iterfind(self.tag("itemDefinition"))}
        self.default_language = self.language(root.get("expressionLanguage"), root.get("id"))
        drg.namespaces.add(self.namespace)

    def tag(self, local: str) -> str:
        return f"{{{self.ns}}}{local}"

    def problem(self, message: str, element_id: str | None, code: str = "invalid_decision") -> None:
        self.result.problem(message, element_id, code)

    def qualify(self, local_id: str) -> str:
        """The key of an element of this file: its id, or `namespace#id` for an imported file's."""
        return f"{self.namespace}#{local_id}" if self.prefix else local_id

    def ref(self, href: str) -> str:
        """The key an href points to: `#id` in this file, `namespace#id` in this or an imported file."""
        namespace, _, local = href.rpartition("#")
        if not namespace or namespace == self.namespace:
            return self.qualify(local)
        return href

    def type_ref(self, text: str | None) -> str | None:
        """A typeRef, with this file's item definitions named `import.name` when the file is imported."""
        if text and self.prefix and text in self.local_items:
            return f"{self.prefix}.{text}"
        return text or None

    def language(self, value: str | None, element_id: str | None) -> str:
        """FEEL, PYTHON, or AUTO when nothing is declared; reports languages we cannot run."""
        if not value:
            return AUTO
        lowered = value.lower()
        if "feel" in lowered:
            return FEEL
        if "python" in lowered:
            return PYTHON
        self.problem(
            f"expression language {value!r} is not supported; use FEEL (the default) or python",
            element_id,
            "unsupported",
        )
        return FEEL

    def cell(self, el: etree._Element | None, owner_id: str | None, language: str | None = None) -> Cell:
        if el is None:
            return Cell("", owner_id, language or FEEL)
        own = el.get("expressionLanguage")
        lang = language or (self.language(own, el.get("id") or owner_id) if own else self.default_language)
        return Cell(el.findtext(self.tag("text")) or "", el.get("id") or owner_id, lang)
