"""The migrations and the models describe the same schema, on SQLite and PostgreSQL, and the triggers do their part."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, insert, select, update

from engine.db.models import Base, Deployment, HumanTask, ProcessDefinition, ProcessInstance, TaskGroup, TaskUser
from engine.db.session import make_engine


def test_migrations_match_the_models(database_url):
    engine = make_engine(database_url)  # the fixture's database is migrated to head
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        engine.dispose()


def _groups(conn, task_id):
    rows = conn.execute(
        select(TaskGroup.group_name, TaskGroup.offered)
        .where(TaskGroup.task_id == task_id)
        .order_by(TaskGroup.group_name)
    )
    return [(name, bool(offered)) for name, offered in rows]


def test_task_groups_follow_the_task_rows_whoever_writes_them(database_url):
    """Triggers (migration 0015) write a task's group rows from its candidate_groups, once per name,
    and keep `offered` true exactly while the task is open and unassigned, for any writer."""
    engine = make_engine(database_url)
    now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    tasks = HumanTask.__table__
    try:
        with engine.begin() as conn:
            conn.execute(insert(Deployment), {"id": 1, "uuid": "d", "name": "d", "lane_map": {}, "created_at": now})
            conn.execute(
                insert(ProcessDefinition),
                {
                    "id": 1,
                    "uuid": "p",
                    "key": "p",
                    "version": 1,
                    "name": "p",
                    "deployment_id": 1,
                    "content_hash": "x",
                    "bpmn_file": "x.bpmn",
                    "spec": "{}",
                    "lane_map": {},
                    "forms": {},
                    "user_tasks": [],
                    "created_at": now,
                },
            )
            conn.execute(
                insert(ProcessInstance),
                {
                    "id": 1,
                    "uuid": "i",
                    "definition_id": 1,
                    "status": "running",
                    "state": "{}",
                    "variables": {},
                    "revision": 1,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            common = {"instance_id": 1, "element_id": "t", "status": "open", "created_at": now, "priority": 0}
            conn.execute(
                insert(tasks),
                [
                    {
                        **common,
                        "id": 1,
                        "uuid": "t1",
                        "candidate_groups": ["Finance", "Security", "Finance"],
                        "assignee": None,
                    },
                    {**common, "id": 2, "uuid": "t2", "candidate_groups": [], "assignee": "alice"},
                    {**common, "id": 3, "uuid": "t3", "candidate_groups": ["Finance"], "assignee": "bob"},
                ],
            )
        with engine.begin() as conn:
            assert _groups(conn, 1) == [("Finance", True), ("Security", True)]
            assert _groups(conn, 2) == []
            assert _groups(conn, 3) == [("Finance", False)]  # assigned: not offered to the group
            conn.execute(update(tasks).where(tasks.c.id == 1).values(assignee="carol"))  # claimed
            assert _groups(conn, 1) == [("Finance", False), ("Security", False)]
            conn.execute(update(tasks).where(tasks.c.id == 1).values(assignee=None))  # released
            assert _groups(conn, 1) == [("Finance", True), ("Security", True)]
            conn.execute(update(tasks).where(tasks.c.id == 1).values(status="completed"))
            assert _groups(conn, 1) == [("Finance", False), ("Security", False)]
            conn.execute(update(tasks).where(tasks.c.id == 3).values(assignee=None))
            assert _groups(conn, 3) == [("Finance", True)]
            conn.execute(update(tasks).where(tasks.c.id == 3).values(name="renamed"))  # no change of offer
            assert _groups(conn, 3) == [("Finance", True)]
            conn.execute(delete(tasks).where(tasks.c.id == 3))
            assert _groups(conn, 3) == []
            # candidate users (migration 0017): their rows follow the same rule
            conn.execute(
                insert(tasks),
                {
                    **common,
                    "id": 4,
                    "uuid": "t4",
                    "candidate_groups": ["Finance"],
                    "candidate_users": ["bob", "carol", "bob"],
                    "assignee": None,
                },
            )
            assert _users(conn, 4) == [("bob", True), ("carol", True)] and _groups(conn, 4) == [("Finance", True)]
            conn.execute(update(tasks).where(tasks.c.id == 4).values(assignee="carol"))
            assert _users(conn, 4) == [("bob", False), ("carol", False)] and _groups(conn, 4) == [("Finance", False)]
            conn.execute(update(tasks).where(tasks.c.id == 4).values(assignee=None))
            assert _users(conn, 4) == [("bob", True), ("carol", True)]
            conn.execute(update(tasks).where(tasks.c.id == 4).values(status="cancelled"))
            assert _users(conn, 4) == [("bob", False), ("carol", False)]
            conn.execute(delete(tasks).where(tasks.c.id == 4))
            assert _users(conn, 4) == []
    finally:
        engine.dispose()


def _users(conn, task_id):
    rows = conn.execute(
        select(TaskUser.username, TaskUser.offered).where(TaskUser.task_id == task_id).order_by(TaskUser.username)
    )
    return [(name, bool(offered)) for name, offered in rows]
