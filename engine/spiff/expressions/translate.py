"""Expressions written for other engines, turned into sandbox Python at deploy.

Every expression SpiffWorkflow evaluates is sandbox Python (engine/spiff/expressions/sandbox.py). Models
from other tools carry other languages, recognised here:

- **FEEL**: the text starts with `=` (Camunda 8), or its `language` (else the definitions'
  `expressionLanguage`) names FEEL. It is parsed by engine.dmn.feel at deploy and becomes the
  sandbox call `feel('<text>')` (engine/spiff/expressions/feel_calls.py), evaluated over the task data.
- **JUEL** (Camunda 7): `${...}` / `#{...}`, or a `language` naming JUEL; the common forms are
  translated to Python by engine/spiff/expressions/juel.py, anything else is a deploy problem.
- **XPath**, BPMN's default (the `language`, else the definitions' `expressionLanguage`, names
  XPath) unless the text is JUEL or `=` FEEL: the subset in engine/spiff/expressions/xpath.py (data objects,
  variables, also with spaces in their names, comparisons, and/or/not); anything else is a
  deploy problem.
- **Python** otherwise (no language, or one naming Python; XHTML and XML Schema, which tools
  write as a meaningless default, count as none).

`compile_expression` (and `compile_condition`) give the Python to deploy, or a Problem naming
the element and the expression; the Python always compiles in the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from engine.core.errors import Problem
from engine.spiff.expressions import feel_calls
from engine.spiff.expressions.juel import JuelUnsupported, is_juel
from engine.spiff.expressions.juel import translate as translate_juel
from engine.spiff.expressions.sandbox import check_expression
from engine.spiff.expressions.xpath import XPathUnsupported
from engine.spiff.expressions.xpath import translate as translate_xpath

FEEL = "feel"
JUEL = "juel"
PYTHON = "python"
XPATH = "xpath"
_NO_LANGUAGE = ("xhtml", "xmlschema")  # defaults tools write without meaning them


class UnsupportedLanguage(ValueError):
    """An expression declares a language pmoflow cannot run."""


@dataclass(frozen=True)
class Where:
    """Where an expression is: file, element id and line, for the problems it may cause."""

    file: str | None = None
    element_id: str | None = None
    line: int | None = None

    @classmethod
    def of(cls, filename: str | None, node: etree._Element) -> Where:
        """The place of `node`: its own id, or that of its nearest ancestor with one."""
        owner: etree._Element | None = node
        while owner is not None and owner.get("id") is None:
            owner = owner.getparent()
        return cls(filename, owner.get("id") if owner is not None else None, node.sourceline)


def language_kind(language: str | None) -> str | None:
    """FEEL, JUEL or PYTHON for a declared language, None for none; raises UnsupportedLanguage."""
    lang = (language or "").strip().lower()
    if not lang or any(word in lang for word in _NO_LANGUAGE):
        return None
    if "feel" in lang:
        return FEEL
    if "juel" in lang or lang in ("el", "uel", "jsp", "java unified expression language"):
        return JUEL
    if "python" in lang:
        return PYTHON
    if "xpath" in lang:
        return XPATH
    raise UnsupportedLanguage(
        f"expression language {language!r} is not supported (use FEEL, JUEL, Python or the XPath subset)"
    )


def dialect(text: str, language: str | None = None) -> str:
    """The language `text` is written in: the declared one, else read from the text; raises UnsupportedLanguage."""
    kind = language_kind(language)
    source = text.strip()
    if kind == XPATH:  # the BPMN default: tools write JUEL and FEEL under it too
        return FEEL if source.startswith("=") else JUEL if is_juel(source) else XPATH
    if kind is not None:
        return kind
    if source.startswith("="):
        return FEEL
    if is_juel(source):
        return JUEL
    return PYTHON


def declared_language(node: etree._Element) -> str | None:
    """The language declared for an expression element: its own, else a definitions default pmoflow knows."""
    own = (node.get("language") or "").strip()
    if own and not any(word in own.lower() for word in _NO_LANGUAGE):
        return own
    default = node.getroottree().getroot().get("expressionLanguage")
    return default if language_kind_or_none(default) is not None else None


def language_kind_or_none(language: str | None) -> str | None:
    """Like language_kind, but None (not an error) for a language pmoflow does not know."""
    try:
        return language_kind(language)
    except UnsupportedLanguage:
        return None


def compile_expression(
    text: str | None, language: str | None, where: Where, what: str = "expression", names: tuple[str, ...] = ()
) -> str | Problem:
    """Sandbox Python for an expression in any supported language, or a Problem naming element and text.

    `names` are multi-word variable names FEEL should read as one name ("Vacation Approval").
    """
    source = (text or "").strip()
    if not source:
        return Problem(f"empty {what}", where.file, where.element_id, where.line, "empty_expression")
    try:
        kind = dialect(source, language)
    except UnsupportedLanguage as err:
        return _problem(where, f"{what} {_show(source)}: {err}", "unsupported_expression")
    if kind == FEEL:
        body = source[1:].strip() if source.startswith("=") else source
        reason = feel_calls.check(body, names)
        if reason is not None:
            return _problem(where, f"{what} {_show(source)} is not valid FEEL: {reason}", "bad_expression")
        python = feel_calls.call_source(body, names)
    elif kind == JUEL:
        try:  # a language naming JUEL may come without the ${...} around it
            python = translate_juel(source if is_juel(source) else "${" + source + "}")
        except JuelUnsupported as err:
            return _problem(where, f"{what} {_show(source)} is not supported: {err}", "unsupported_expression")
    elif kind == XPATH:
        try:
            python = translate_xpath(source)
        except XPathUnsupported as err:
            return _problem(
                where,
                f"{what} {_show(source)} is not in the XPath subset pmoflow runs: {err}",
                "unsupported_expression",
            )
    else:
        python = source
    message = check_expression(python, "eval")
    if message is not None:
        return _problem(where, f"{what} {_show(source)} does not compile: {message}", "bad_expression")
    return python


def compile_condition(text: str | None, language: str | None, where: Where) -> str | Problem:
    """Sandbox Python for a condition (FEEL, JUEL, XPath or Python), or a Problem naming element and text."""
    return compile_expression(text, language, where, "condition")


def _problem(where: Where, message: str, code: str) -> Problem:
    return Problem(message, where.file, where.element_id, where.line, code)


def _show(source: str) -> str:
    return repr(source if len(source) <= 200 else source[:197] + "...")
