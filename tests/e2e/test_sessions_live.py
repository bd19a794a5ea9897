"""End to end: two `pmoflow serve` processes on one database. A cookie copied from one works on the other until
its user signs out, then on neither; failed sign-ins on both count against one allowance, per account and per
address, in the database or in Redis (tests/engine/admin/test_throttle.py says where Redis is looked for)."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.engine.admin.test_throttle import REDIS_URL, redis_answers
from tests.servers import BIN, ROOT, serving

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(params=["database", "redis"])
def two_servers(request, database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    env = {
        **os.environ,
        "PMOFLOW_DATABASE_URL": database_url,
        "PMOFLOW_SECRET_KEY": "e2e-sessions",
        "PMOFLOW_WORKFLOWS_DIR": str(ROOT / "workflows"),
        "PMOFLOW_LOGIN_FAILURES_PER_ACCOUNT": "3",
        "PMOFLOW_LOGIN_FAILURES_PER_ADDRESS": "4",
    }
    if request.param == "redis":
        if not redis_answers():
            pytest.skip(f"no Redis at {REDIS_URL}")
        env |= {"PMOFLOW_REDIS_URL": REDIS_URL, "PMOFLOW_REDIS_PREFIX": f"pmoflow-e2e-{uuid.uuid4().hex[:12]}"}
    init = subprocess.run(
        [str(BIN / "pmoflow"), "init", "--demo"], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert init.returncode == 0, init.stderr
    with serving(env, tmp_path / "a.log") as first, serving(env, tmp_path / "b.log") as second:
        yield first, second


def post_form(client: httpx.Client, path: str, page: str, **data: str) -> httpx.Response:
    """A form post with the CSRF token of `page` (fetched with the same cookies)."""
    match = CSRF.search(client.get(page).text)
    assert match, page
    return client.post(path, data={**data, "csrf_token": match.group(1)})


def sign_in(base: str, user: str, password: str) -> httpx.Response:
    with httpx.Client(base_url=base, timeout=30) as client:
        return post_form(client, "/login", "/login", username=user, password=password)


def test_sign_out_and_the_sign_in_allowance_hold_across_processes(two_servers):
    first, second = two_servers
    with httpx.Client(base_url=first, timeout=30) as alice:
        assert post_form(alice, "/login", "/login", username="alice", password="demo").status_code == 302
        with httpx.Client(base_url=second, timeout=30, cookies=dict(alice.cookies)) as copied:
            assert copied.get("/tasks").status_code == 200
            assert post_form(alice, "/logout", "/tasks").status_code == 302
            assert copied.get("/tasks").status_code == 302  # the other process: the copied cookie is refused
    # failed sign-ins on both processes count against one allowance (servers start slowly: one pair, both checks)
    statuses = [sign_in((first, second)[i % 2], "alice", "wrong").status_code for i in range(3)]
    assert statuses == [401, 401, 429]  # three failures per account, over two processes
    refused = sign_in(second, "alice", "demo")
    assert refused.status_code == 429 and "Too many failed sign-ins for this account" in refused.text
    # the address has 3 failures; one more, for another account, reaches its limit of 4
    assert sign_in(first, "bob", "wrong").status_code == 429
    refused = sign_in(second, "bob", "demo")
    assert refused.status_code == 429 and "your address" in refused.text
