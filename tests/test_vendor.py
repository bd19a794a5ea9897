"""The vendored browser bundles keep their license duties: banner, LICENSE beside them, listed in the notices."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "webui" / "static" / "vendor"
FOLDERS = sorted(p for p in VENDOR.iterdir() if p.is_dir())
SCRIPTS = sorted(VENDOR.rglob("*.js"))
BANNER = re.compile(r"^/\*! (?P<name>\S+) .*\bv(?P<version>\d+\.\d+\.\d+)\b.*bpmn\.io/license \*/$")


def test_the_expected_bundles_are_vendored():
    assert {p.name for p in FOLDERS} >= {"bpmn-js", "form-js", "dmn-js"}
    assert SCRIPTS


def test_the_designer_has_its_modelers_with_their_stylesheets():
    for name in (
        "bpmn-js/bpmn-modeler.production.min.js",
        "bpmn-js/assets/bpmn-font/css/bpmn.css",
        "dmn-js/dmn-modeler.production.min.js",
        "dmn-js/assets/dmn-js-decision-table.css",
        "dmn-js/assets/dmn-font/css/dmn.css",
    ):
        assert (VENDOR / name).is_file(), name
    notices = (ROOT / "THIRD-PARTY-NOTICES.md").read_text(encoding="utf-8")
    assert "webui/static/vendor/dmn-js/LICENSE" in notices


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(VENDOR)))
def test_every_vendored_script_keeps_its_license_banner_and_is_in_the_notices(script: Path):
    first_line = script.read_text(encoding="utf-8").split("\n", 1)[0]
    banner = BANNER.match(first_line)
    assert banner, f"{script.name} lost its /*! ... bpmn.io/license */ banner: {first_line[:120]!r}"
    notices = (ROOT / "THIRD-PARTY-NOTICES.md").read_text(encoding="utf-8")
    assert f"{banner['name']} {banner['version']}" in notices


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_every_vendor_folder_has_its_license_with_the_watermark_clause(folder: Path):
    license_text = (folder / "LICENSE").read_text(encoding="utf-8")
    assert "Permission is hereby granted" in license_text
    assert "watermark" in license_text


AXE = ROOT / "tests" / "browser" / "vendor" / "axe-core"


def test_the_test_only_axe_core_bundle_keeps_its_banner_license_and_notice():
    first_line = (AXE / "axe.min.js").read_text(encoding="utf-8").split("\n", 1)[0]
    version = re.fullmatch(r"/\*! axe v(\d+\.\d+\.\d+)", first_line.strip())
    assert version, f"axe.min.js lost its banner: {first_line[:80]!r}"
    assert "Mozilla Public License, version 2.0" in (AXE / "LICENSE").read_text(encoding="utf-8")
    assert f"axe-core {version[1]}" in (AXE / "README.md").read_text(encoding="utf-8")
    notices = (ROOT / "THIRD-PARTY-NOTICES.md").read_text(encoding="utf-8")
    assert f"axe-core {version[1]}" in notices and "tests/browser/vendor/axe-core/LICENSE" in notices
