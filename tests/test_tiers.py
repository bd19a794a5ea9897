"""Every test is given its tier markers from the fixtures it uses (tests/conftest.py), never by hand."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import BROWSER_TESTS, tiers_of

HERE = Path(__file__)


def _item(
    path: Path = HERE, fixtures: tuple[str, ...] = (), database: str | None = None, marker: str | None = None
) -> pytest.Item:
    callspec = SimpleNamespace(params={"database_url": database}) if database else None
    fake = SimpleNamespace(
        path=path,
        fixturenames=list(fixtures),
        callspec=callspec,
        get_closest_marker=lambda name: name if name == marker else None,
    )
    return fake  # type: ignore[return-value]


def test_a_test_without_a_database_or_browser_is_a_unit_test(request: pytest.FixtureRequest) -> None:
    assert tiers_of(_item()) == {"unit"}
    assert request.node.get_closest_marker("unit") is not None
    assert not any(request.node.get_closest_marker(t) for t in ("sqlite", "postgres", "browser"))


def test_each_database_parameter_gives_its_tier(request: pytest.FixtureRequest, database_url: str) -> None:
    kind = "sqlite" if database_url.startswith("sqlite") else "postgres"
    assert request.node.get_closest_marker(kind) is not None
    assert request.node.get_closest_marker("unit") is None
    assert tiers_of(_item(fixtures=("database_url",), database="sqlite")) == {"sqlite"}
    assert tiers_of(_item(fixtures=("database_url",), database="postgres")) == {"postgres"}


def test_direct_database_fixtures_and_the_postgres_marker_give_their_tier() -> None:
    assert tiers_of(_item(fixtures=("postgres_database",))) == {"postgres"}
    assert tiers_of(_item(marker="postgres")) == {"postgres"}
    assert tiers_of(_item(fixtures=("sqlite_template",))) == {"sqlite"}


def test_browser_tests_are_found_by_folder_or_fixture_and_keep_their_database_tier() -> None:
    assert tiers_of(_item(path=BROWSER_TESTS / "test_new.py")) == {"browser"}
    assert tiers_of(_item(path=BROWSER_TESTS / "sub" / "test_new.py", database="postgres")) == {"browser", "postgres"}
    assert tiers_of(_item(fixtures=("browser", "database_url"), database="sqlite")) == {"browser", "sqlite"}
