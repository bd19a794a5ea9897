"""The OpenID provider of the single sign-on tests: skipped, saying why, only where Node.js is missing."""

from __future__ import annotations

import pytest

from tests import identity


def test_without_node_the_provider_tests_are_skipped_saying_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identity.shutil, "which", lambda name: None)
    with pytest.raises(pytest.skip.Exception, match="Node.js is not installed"):
        identity.install_node_modules()


def test_with_node_the_provider_is_installed_from_the_lock_file() -> None:
    if identity.shutil.which("node") is None:
        pytest.skip("Node.js is not installed here")
    identity.install_node_modules()
    assert (identity.OIDC_DIR / "node_modules" / "oidc-provider" / "package.json").is_file()
