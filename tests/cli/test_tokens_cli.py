"""`pmoflow users create --system` and `pmoflow tokens create --scope`, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from cli import main as cli
from engine.admin import passwords, tokens, users
from engine.core.permissions import PERMISSIONS, SCOPES, allowed
from engine.scim import users as scim_users


@pytest.fixture
def env(ctx, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PMOFLOW_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("PMOFLOW_SECRET_KEY", "test-secret")
    return ctx


def test_a_system_account_and_a_scoped_token_from_the_command_line(env, capsys):
    assert cli.main(["users", "create", "intake", "--role", "api", "--system"]) == 0  # reads no password
    assert "system account" in capsys.readouterr().out
    assert users.get_user(env, "intake").roles == ["api"]
    assert passwords.authenticate(env, "intake", "") is None
    argv = ["tokens", "create", "--user", "intake", "--name", "intake form"]
    assert cli.main([*argv, "--scope", "instances:start:project-intake", "--scope", "instances:read"]) == 0
    token = capsys.readouterr().out.strip()
    actor = tokens.actor_for_token(env, token)
    assert actor.scopes == frozenset({"instances:start:project-intake", "instances:read"})
    assert cli.main([*argv, "--scope", "admin"]) == 1  # more than role api allows
    assert "'admin' is more than the user's roles (api) allow" in capsys.readouterr().err
    assert cli.main(argv) == 0  # no --scope: every scope of the roles, as before
    everything = tokens.actor_for_token(env, capsys.readouterr().out.strip())
    assert "audit:read" in (everything.scopes or ())


def test_a_scim_client_set_up_as_the_readme_says_may_provision_and_nothing_else(env, capsys):
    assert cli.main(["users", "create", "scim-okta", "--system", "--role", "admin"]) == 0
    capsys.readouterr()
    argv = ["tokens", "create", "--user", "scim-okta", "--name", "Okta provisioning", "--scope", "scim"]
    assert cli.main(argv) == 0
    actor = tokens.actor_for_token(env, capsys.readouterr().out.strip())
    assert actor.scopes == frozenset({"scim"})
    assert scim_users.list_users(env, actor, 'userName eq "nobody"', None, None).total == 0
    for action in sorted(set(PERMISSIONS) - {"scim.provision"}):
        assert not allowed(actor, action), action


def test_tokens_create_help_names_every_scope_a_token_may_carry(capsys):
    with pytest.raises(SystemExit):
        cli.main(["tokens", "create", "--help"])
    text = " ".join(capsys.readouterr().out.split()).replace("- ", "-")  # argparse wraps and may break at '-'
    for scope in SCOPES:
        assert f"{scope}:" in text, scope  # the README's notifications and scim scopes too
