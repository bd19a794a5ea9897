"""Hardened XML parsing: no DTDs, no entities, no network, a size limit, errors with lines."""

from __future__ import annotations

from lxml import etree

from engine.core.errors import Problem


class XmlRefused(Exception):
    """The file is not acceptable XML; `problem` says why and where."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )


def parse_xml(content: bytes, filename: str, max_bytes: int) -> etree._Element:
    """Parse untrusted XML; raises XmlRefused for oversize, DOCTYPE/entities or malformed input."""
    if len(content) > max_bytes:
        raise XmlRefused(Problem(f"file is {len(content)} bytes; the limit is {max_bytes}", filename, code="too_large"))
    head = content[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in content.lower():
        raise XmlRefused(
            Problem(
                "DOCTYPE and entity declarations are not allowed",
                filename,
                line=_line_of(content, b"<!"),
                code="forbidden_xml",
            )
        )
    try:
        root = etree.fromstring(content, _parser())
    except etree.XMLSyntaxError as err:
        line = err.lineno if err.lineno else None
        raise XmlRefused(Problem(f"malformed XML: {err.msg}", filename, line=line, code="malformed_xml")) from err
    if root.getroottree().docinfo.internalDTD is not None or root.getroottree().docinfo.doctype:
        raise XmlRefused(Problem("DOCTYPE declarations are not allowed", filename, code="forbidden_xml"))
    return root


def _line_of(content: bytes, needle: bytes) -> int | None:
    pos = content.lower().find(needle.lower())
    return content.count(b"\n", 0, pos) + 1 if pos >= 0 else None


def parent_of(el: etree._Element) -> etree._Element:
    """The parent of an element found inside a document; raises ValueError for a root element."""
    parent = el.getparent()
    if parent is None:
        raise ValueError("a root element has no parent")
    return parent
