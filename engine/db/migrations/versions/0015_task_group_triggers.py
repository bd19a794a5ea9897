"""task_groups kept by triggers on human_tasks

A task's group rows follow from its own columns: one row per distinct name in
`candidate_groups`, offered while the task is open and unassigned. Triggers keep them,
so every writer of task rows (the ORM, Core statements, a console) leaves them right,
and a step spends no statement of its own on them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26 04:00:00
"""
from alembic import op


revision = '0015'
down_revision = '0014'
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
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION pmoflow_task_groups_offer() RETURNS trigger AS $$
BEGIN
    UPDATE task_groups SET offered = (NEW.status = 'open' AND NEW.assignee IS NULL) WHERE task_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER human_tasks_groups AFTER INSERT ON human_tasks
    FOR EACH ROW EXECUTE FUNCTION pmoflow_task_groups_insert();
CREATE TRIGGER human_tasks_offer AFTER UPDATE OF status, assignee ON human_tasks
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.assignee IS DISTINCT FROM NEW.assignee)
    EXECUTE FUNCTION pmoflow_task_groups_offer();
"""

SQLITE = (
    """
    CREATE TRIGGER human_tasks_groups AFTER INSERT ON human_tasks
    BEGIN
        INSERT INTO task_groups (task_id, group_name, offered)
        SELECT DISTINCT NEW.id, value, NEW.status = 'open' AND NEW.assignee IS NULL
        FROM json_each(CASE WHEN json_valid(NEW.candidate_groups) THEN NEW.candidate_groups ELSE '[]' END)
        WHERE type = 'text';
    END
    """,
    """
    CREATE TRIGGER human_tasks_offer AFTER UPDATE OF status, assignee ON human_tasks
    WHEN OLD.status IS NOT NEW.status OR OLD.assignee IS NOT NEW.assignee
    BEGIN
        UPDATE task_groups SET offered = (NEW.status = 'open' AND NEW.assignee IS NULL) WHERE task_id = NEW.id;
    END
    """,
)


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(POSTGRES)
    else:
        for statement in SQLITE:
            op.execute(statement)
    # Rows written before: the same rule, once.
    op.execute("UPDATE task_groups SET offered = EXISTS (SELECT 1 FROM human_tasks h WHERE h.id = task_groups.task_id "
               "AND h.status = 'open' AND h.assignee IS NULL)")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS human_tasks_groups" + (" ON human_tasks" if _postgres() else ""))
    op.execute("DROP TRIGGER IF EXISTS human_tasks_offer" + (" ON human_tasks" if _postgres() else ""))
    if _postgres():
        op.execute("DROP FUNCTION IF EXISTS pmoflow_task_groups_insert()")
        op.execute("DROP FUNCTION IF EXISTS pmoflow_task_groups_offer()")


def _postgres() -> bool:
    return op.get_bind().dialect.name == 'postgresql'
