"""candidate users of a task and where its group came from

A task may be offered to named users besides (or instead of) groups: `human_tasks.candidate_users`
holds their names, and `task_users` one row per name, offered while the task is open and
unassigned, written by the same triggers as `task_groups` (migration 0015), which now keep both.
`human_tasks.group_source` says where the task's group came from (lane, candidate groups,
process default, deployment default) for the pages that show it.

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-05 01:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0015'
branch_labels = None
depends_on = None

POSTGRES = """
CREATE OR REPLACE FUNCTION pmoflow_task_groups_insert() RETURNS trigger AS $$
BEGIN
    IF json_typeof(NEW.candidate_groups) = 'array' THEN
        INSERT INTO task_groups (task_id, group_name, offered)
        SELECT DISTINCT NEW.id, g, NEW.status = 'open' AND NEW.assignee IS NULL
        FROM json_array_elements_text(NEW.candidate_groups) AS g;
    END IF;
    IF json_typeof(NEW.candidate_users) = 'array' THEN
        INSERT INTO task_users (task_id, username, offered)
        SELECT DISTINCT NEW.id, u, NEW.status = 'open' AND NEW.assignee IS NULL
        FROM json_array_elements_text(NEW.candidate_users) AS u;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION pmoflow_task_groups_offer() RETURNS trigger AS $$
BEGIN
    UPDATE task_groups SET offered = (NEW.status = 'open' AND NEW.assignee IS NULL) WHERE task_id = NEW.id;
    UPDATE task_users SET offered = (NEW.status = 'open' AND NEW.assignee IS NULL) WHERE task_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

POSTGRES_0015 = """
CREATE OR REPLACE FUNCTION pmoflow_task_groups_insert() RETURNS trigger AS $$
BEGIN
    IF json_typeof(NEW.candidate_groups) = 'array' THEN
        INSERT INTO task_groups (task_id, group_name, offered)
        SELECT DISTINCT NEW.id, g, NEW.status = 'open' AND NEW.assignee IS NULL
        FROM json_array_elements_text(NEW.candidate_groups) AS g;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION pmoflow_task_groups_offer() RETURNS trigger AS $$
BEGIN
    UPDATE task_groups SET offered = (NEW.status = 'open' AND NEW.assignee IS NULL) WHERE task_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

SQLITE_GROUPS = """
        INSERT INTO task_groups (task_id, group_name, offered)
        SELECT DISTINCT NEW.id, value, NEW.status = 'open' AND NEW.assignee IS NULL
        FROM json_each(CASE WHEN json_valid(NEW.candidate_groups) THEN NEW.candidate_groups ELSE '[]' END)
        WHERE type = 'text';
"""
SQLITE_USERS = """
        INSERT INTO task_users (task_id, username, offered)
        SELECT DISTINCT NEW.id, value, NEW.status = 'open' AND NEW.assignee IS NULL
        FROM json_each(CASE WHEN json_valid(NEW.candidate_users) THEN NEW.candidate_users ELSE '[]' END)
        WHERE type = 'text';
"""
SQLITE_OFFER_GROUPS = """
        UPDATE task_groups SET offered = (NEW.status = 'open' AND NEW.assignee IS NULL) WHERE task_id = NEW.id;
"""
SQLITE_OFFER_USERS = """
        UPDATE task_users SET offered = (NEW.status = 'open' AND NEW.assignee IS NULL) WHERE task_id = NEW.id;
"""


def _sqlite_triggers(with_users: bool) -> list[str]:
    return [
        "DROP TRIGGER IF EXISTS human_tasks_groups",
        "DROP TRIGGER IF EXISTS human_tasks_offer",
        "CREATE TRIGGER human_tasks_groups AFTER INSERT ON human_tasks BEGIN"
        + SQLITE_GROUPS + (SQLITE_USERS if with_users else "") + "END",
        "CREATE TRIGGER human_tasks_offer AFTER UPDATE OF status, assignee ON human_tasks "
        "WHEN OLD.status IS NOT NEW.status OR OLD.assignee IS NOT NEW.assignee BEGIN"
        + SQLITE_OFFER_GROUPS + (SQLITE_OFFER_USERS if with_users else "") + "END",
    ]


def upgrade() -> None:
    with op.batch_alter_table('human_tasks') as batch:
        batch.add_column(sa.Column('candidate_users', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
        batch.add_column(sa.Column('group_source', sa.String(length=20), nullable=True))
    op.create_table('task_users',
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('offered', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['human_tasks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', 'username')
    )
    op.create_index('ix_task_users_username', 'task_users', ['username'], unique=False)
    op.create_index('ix_task_users_offered', 'task_users', ['username', 'task_id'], unique=False,
                    postgresql_where=sa.text('offered'), sqlite_where=sa.text('offered'))
    if _postgres():
        op.execute(POSTGRES)
    else:
        for statement in _sqlite_triggers(with_users=True):
            op.execute(statement)


def downgrade() -> None:
    if not _postgres():                   # the triggers go first: SQLite rebuilds the table to drop columns
        op.execute("DROP TRIGGER IF EXISTS human_tasks_groups")
        op.execute("DROP TRIGGER IF EXISTS human_tasks_offer")
    else:
        op.execute(POSTGRES_0015)
    op.drop_index('ix_task_users_offered', table_name='task_users')
    op.drop_index('ix_task_users_username', table_name='task_users')
    op.drop_table('task_users')
    with op.batch_alter_table('human_tasks') as batch:
        batch.drop_column('group_source')
        batch.drop_column('candidate_users')
    if not _postgres():
        for statement in _sqlite_triggers(with_users=False):
            op.execute(statement)


def _postgres() -> bool:
    return op.get_bind().dialect.name == 'postgresql'
