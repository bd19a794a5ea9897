"""Back-channel logout replays are refused by every process (engine/sso/logout.py): the `jti`s taken are rows
shared through the database, not a set in one process's memory; old rows go at a later logout."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from engine import bootstrap
from engine.core.clock import FixedClock
from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.db.models import OidcLogoutToken
from engine.sso.logout import EVENT, KEEP_JTI, LogoutRefused, backchannel_logout
from tests.identity import CLIENT_ID, KeyProvider


@pytest.fixture
def processes(database_url: str, idp: KeyProvider) -> Iterator[tuple[EngineContext, EngineContext, FixedClock]]:
    """Two engine contexts on one database, as two gunicorn workers or two hosts, on one clock."""
    clock = FixedClock()
    settings = Settings(database_url=database_url, secret_key="test-secret", **idp.settings())
    contexts = [bootstrap.context(settings, clock=clock) for _ in range(2)]
    yield contexts[0], contexts[1], clock
    for ctx in contexts:
        ctx.db.dispose()


def token(idp: KeyProvider, clock: FixedClock, **claims: Any) -> str:
    base = {
        "iss": idp.issuer,
        "aud": CLIENT_ID,
        "iat": int(clock.now().timestamp()),
        "jti": uuid.uuid4().hex,
        "events": {EVENT: {}},
        "sub": "s-nina",
    }
    return idp.sign({**base, **claims}, header={"typ": "logout+jwt"})


def rows(ctx: EngineContext) -> int:
    with ctx.uow(write=False) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(OidcLogoutToken)) or 0)


def test_a_logout_token_replayed_to_another_process_is_refused(processes, idp):
    first, second, clock = processes
    taken = token(idp, clock)
    assert backchannel_logout(first, taken) == 0  # valid: nothing was open
    with pytest.raises(LogoutRefused, match="used before"):
        backchannel_logout(second, taken)
    with pytest.raises(LogoutRefused, match="used before"):
        backchannel_logout(first, taken)
    assert backchannel_logout(second, token(idp, clock)) == 0  # another jti is another token
    assert rows(first) == 2


def test_the_same_jti_of_another_issuer_is_another_token(processes, idp):
    first, _, clock = processes
    jti = uuid.uuid4().hex
    with first.uow() as uow:
        uow.session.add(OidcLogoutToken(issuer="https://other.example.com", jti=jti, expires_at=clock.now() + KEEP_JTI))
        uow.commit()
    assert backchannel_logout(first, token(idp, clock, jti=jti)) == 0


def test_taken_jtis_are_kept_while_a_replay_could_pass_and_pruned_after(processes, idp):
    first, second, clock = processes
    taken = token(idp, clock)
    backchannel_logout(first, taken)
    clock.advance(timedelta(minutes=9))  # the token is still young enough: only the stored jti refuses it
    with pytest.raises(LogoutRefused, match="used before"):
        backchannel_logout(second, taken)
    clock.advance(KEEP_JTI)
    with pytest.raises(LogoutRefused, match="too old"):  # refused by its age now, whatever is stored
        backchannel_logout(second, taken)
    assert rows(first) == 1
    backchannel_logout(second, token(idp, clock))  # a later logout deletes the rows past their time
    assert rows(first) == 1


def test_a_malformed_jti_is_refused(processes, idp):
    first, _, clock = processes
    for jti in ("", "x" * 256, 42):
        with pytest.raises(LogoutRefused):
            backchannel_logout(first, token(idp, clock, jti=jti))
    assert rows(first) == 0


def test_of_two_processes_taking_one_token_at_once_exactly_one_succeeds(processes, idp):
    first, second, clock = processes
    taken = token(idp, clock)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def deliver(ctx: EngineContext) -> None:
        start.wait()
        try:
            backchannel_logout(ctx, taken)
            outcomes.append("taken")
        except LogoutRefused as err:
            outcomes.append(err.message)

    threads = [threading.Thread(target=deliver, args=(ctx,)) for ctx in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["taken", "the logout token was used before"]
