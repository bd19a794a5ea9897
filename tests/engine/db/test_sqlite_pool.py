"""SQLite connections are pooled: reused across units of work, safe across threads, and never handed back
holding a transaction (or the write lock that `BEGIN IMMEDIATE` takes)."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text

from engine import bootstrap
from engine.core.config import Settings
from engine.db.models import ProcessInstance
from engine.definitions import deployments
from engine.runtime import instances
from engine.spiff.model.parsing import SourceFile
from engine.tasks import completion
from tests.bpmn_samples import one_approval
from tests.factories import ADMIN, ALICE, BOT


@pytest.fixture
def sqlite_ctx(sqlite_template: Path, tmp_path: Path):
    target = tmp_path / "pooled.sqlite3"
    shutil.copy(sqlite_template, target)
    settings = Settings(database_url=f"sqlite:///{target}", secret_key="test-secret", script_time_limit=1.0)
    context = bootstrap.context(settings)
    yield context, target
    context.db.dispose()


def test_units_of_work_reuse_one_connection(sqlite_ctx):
    ctx, _ = sqlite_ctx
    opened: list[object] = []
    event.listen(ctx.db, "connect", lambda conn, record: opened.append(conn))
    for write in (True, False) * 10:
        with ctx.uow(write=write) as uow:
            uow.session.execute(text("SELECT 1"))
            uow.commit()
    assert len(opened) <= 1


def test_an_abandoned_write_gives_back_its_lock_at_once(sqlite_ctx):
    ctx, path = sqlite_ctx
    with pytest.raises(RuntimeError), ctx.uow() as uow:
        uow.session.execute(text("UPDATE users SET display_name = display_name"))  # holds the write lock
        raise RuntimeError("the request failed half-way")
    other = sqlite3.connect(path, timeout=0.05, isolation_level=None)  # another process, unwilling to wait
    try:
        other.execute("BEGIN IMMEDIATE")  # would raise "database is locked" if the pooled connection kept it
        other.execute("ROLLBACK")
    finally:
        other.close()
    with ctx.uow() as uow:  # and the pooled connection itself is ready for the next unit of work
        uow.session.execute(text("UPDATE users SET display_name = display_name"))
        uow.commit()


def test_threads_share_the_pool_and_each_write_serializes(sqlite_ctx):
    ctx, _ = sqlite_ctx
    deployments.deploy(ctx, ADMIN, [SourceFile("p.bpmn", one_approval().encode())])
    tasks = [instances.start(ctx, BOT, "p1").open_tasks[0].id for _ in range(24)]
    errors: list[BaseException] = []

    def complete(some: list[str]) -> None:
        for task_id in some:
            try:
                completion.complete(ctx, ALICE, task_id, {})
                with ctx.uow(write=False) as uow:  # readers run beside the writers (WAL)
                    uow.session.scalar(select(func.count()).select_from(ProcessInstance))
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)

    threads = [threading.Thread(target=complete, args=(tasks[i::6],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with ctx.uow(write=False) as uow:
        statuses = uow.session.scalars(select(ProcessInstance.status)).all()
    assert sorted(set(statuses)) == ["completed"] and len(statuses) == 24
