"""Three `pmoflow worker` processes on PostgreSQL, 2,000 timers due at once, one worker killed
with SIGKILL halfway: every timer fires exactly once, counted from its effects in the database."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from bench.timers import fired_count, prepare, start_workers, stop_workers, wait_started

TIMERS = 2_000
POSTGRES_URL = os.environ.get("PMOFLOW_TEST_POSTGRES_URL")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs PMOFLOW_TEST_POSTGRES_URL"),
]


@pytest.fixture
def pg_url(request) -> str:
    from tests.conftest import _truncate

    url = request.getfixturevalue("postgres_database")
    _truncate(url)
    return url


def test_a_worker_killed_halfway_loses_and_repeats_nothing(pg_url, tmp_path):
    workers = start_workers(pg_url, 3, tmp_path)
    engine = create_engine(pg_url)
    try:
        wait_started(tmp_path, 3)
        prepare(pg_url, TIMERS, datetime.now(UTC) + timedelta(seconds=3))
        victim, killed_at = workers[0], None
        deadline = time.monotonic() + 240
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                fired = fired_count(conn)
                conn.rollback()
                if killed_at is None and fired >= TIMERS // 2:
                    os.kill(victim.pid, signal.SIGKILL)
                    victim.wait()
                    killed_at = fired
                if fired >= TIMERS:
                    break
                time.sleep(0.05)
        assert killed_at is not None and killed_at < TIMERS, "the kill did not happen while timers were firing"
        assert victim.returncode == -signal.SIGKILL
        time.sleep(1)  # anything fired twice would show up now
        with engine.connect() as conn:
            per_instance = dict(
                conn.execute(
                    text(
                        "SELECT p.id, count(e.id) FROM process_instances p "
                        "LEFT JOIN events e ON e.instance_id = p.id AND e.type = 'timer_fired' GROUP BY p.id"
                    )
                ).all()
            )
            effects = dict(
                conn.execute(
                    text(
                        "SELECT p.id, count(e.id) FROM process_instances p "
                        "LEFT JOIN events e ON e.instance_id = p.id AND e.type = 'element_completed' "
                        "AND e.element_id = 'effect' GROUP BY p.id"
                    )
                ).all()
            )
            states = dict(
                conn.execute(
                    text("SELECT status || ':' || (variables->>'fired'), count(*) FROM process_instances GROUP BY 1")
                ).all()
            )
        assert len(per_instance) == TIMERS
        assert sorted(set(per_instance.values())) == [1], "some timer fired twice or never"
        assert sorted(set(effects.values())) == [1], "some script task ran twice or never"
        assert states == {"completed:1": TIMERS}
    finally:
        stop_workers(workers)
        engine.dispose()
