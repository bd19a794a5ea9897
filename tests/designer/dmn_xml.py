"""Comparing a DMN file with what a save made of it, and imitating the DMN editor's save, for the tests of
designer/dmn_keep.py (tests/designer/test_dmn_tck_saves.py, tests/browser/test_designer_dmn.py).

`differences` compares two files element by element: the same elements in the same order, the same attributes
and text. It ignores only what does not change the model: the DMN version's namespace (1.3 against 1.5),
namespace prefixes, whitespace around text, how a diagram number is written (`106.0` and `106`), an attribute
written with its default value or left out (`hitPolicy="UNIQUE"`), and a diagram the editor added to a file
that had none.

`editor_save` does to a file what dmn-js 17.10.2's save was seen to do to the 122 TCK level-3 models (run in
Chromium, December 2026): DMN 1.3 namespaces; DMN 1.4/1.5-only elements gone (dmn-moddle does not know them);
references it cannot resolve left out (a label's `sharedStyle`, a shape's `dmnElementRef` into an imported
model); numbers without `.0`; `hitPolicy="UNIQUE"` (the default) left out. With `drop_boxed` it also loses every
boxed expression it cannot show (dmn-js keeps them, but a save must not depend on it).
"""

from __future__ import annotations

import re

from lxml import etree

DMN_NAMESPACE = re.compile(r"^https?://www\.omg\.org/spec/DMN/\d{8}/(MODEL|DMNDI)/$")
DMN13 = "https://www.omg.org/spec/DMN/20191111/"
DEFAULTS = {"hitPolicy": "UNIQUE", "isCollection": "false", "kind": "FEEL", "aggregation": None}
NUMBERS = {"x", "y", "width", "height"}
ONLY_14_15 = ("conditional", "filter", "for", "some", "every", "typeConstraint")
BOXED = ("context", "invocation", "relation", "list", "functionDefinition")
DI_DROPPED = ("sharedStyle",)


def differences(original: str, saved: str) -> list[str]:
    """Every difference of `saved` from `original` that changes the model, each naming its path."""
    found: list[str] = []
    _compare(etree.fromstring(original.encode()), etree.fromstring(saved.encode()), "", found)
    return found


def _ns(uri: str | None) -> str:
    match = DMN_NAMESPACE.match(uri or "")
    return f"DMN:{match.group(1)}" if match else (uri or "")


def _key(el: etree._Element) -> tuple[str, str]:
    q = etree.QName(el)
    return _ns(q.namespace), q.localname


def _attributes(el: etree._Element) -> dict[tuple[str, str], str]:
    out = {}
    for name, value in el.attrib.items():
        q = etree.QName(name)
        if DEFAULTS.get(q.localname, object()) == value:
            continue
        if q.localname in NUMBERS and not q.namespace:
            value = repr(float(value))
        out[(_ns(q.namespace), q.localname)] = value
    return out


def _children(el: etree._Element) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str)]


def _compare(a: etree._Element, b: etree._Element, path: str, found: list[str]) -> None:
    here = f"{path}/{_key(a)[1]}" + (f"[@id={a.get('id')}]" if a.get("id") else "")
    if _key(a) != _key(b):
        found.append(f"{here}: became {_key(b)[1]}")
        return
    before, after = _attributes(a), _attributes(b)
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            found.append(f"{here}/@{name[1]}: {before.get(name)!r} -> {after.get(name)!r}")
    if " ".join((a.text or "").split()) != " ".join((b.text or "").split()):
        found.append(f"{here}: text {(a.text or '').strip()[:80]!r} -> {(b.text or '').strip()[:80]!r}")
    old, new = _children(a), _children(b)
    if path == "" and not any(_key(c)[1] == "DMNDI" for c in old):
        new = [c for c in new if _key(c)[1] != "DMNDI"]  # the editor lays out a diagram for a file without one
    for i in range(max(len(old), len(new))):
        if i >= len(old):
            found.append(f"{here}: added {_key(new[i])[1]} {new[i].get('id') or ''}".rstrip())
        elif i >= len(new):
            found.append(f"{here}: lost {_key(old[i])[1]} {old[i].get('id') or ''}".rstrip())
        else:
            _compare(old[i], new[i], here, found)


def editor_save(text: str, drop_boxed: bool = False) -> str:
    """What dmn-js 17's save makes of `text` (see the module's docstring)."""
    for version in ("20211108", "20230324"):
        text = text.replace(f"https://www.omg.org/spec/DMN/{version}/MODEL/", DMN13 + "MODEL/")
        text = text.replace(f"https://www.omg.org/spec/DMN/{version}/DMNDI/", DMN13 + "DMNDI/")
    root = etree.fromstring(text.encode())
    ns = etree.QName(root).namespace
    gone = ONLY_14_15 + (BOXED if drop_boxed else ())
    for el in list(root.iter(*(f"{{{ns}}}{k}" for k in gone))):
        parent = el.getparent()
        if parent is not None and (etree.QName(el).localname in ONLY_14_15 or _is_logic(parent)):
            parent.remove(el)
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        local = etree.QName(el).localname
        if el.get("hitPolicy") == "UNIQUE":
            del el.attrib["hitPolicy"]
        if etree.QName(el).namespace != ns:  # the diagram
            for name in DI_DROPPED:
                el.attrib.pop(name, None)
            if local == "DMNShape" and ":" in (el.get("dmnElementRef") or ""):
                del el.attrib["dmnElementRef"]
            for name in NUMBERS & set(el.attrib):
                el.set(name, repr(float(el.get(name) or 0)).removesuffix(".0"))  # as JavaScript writes numbers
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode()


def _is_logic(parent: etree._Element) -> bool:
    return etree.QName(parent).localname in ("decision", "encapsulatedLogic")
