"""instance monitoring, dashboard and retention

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 23:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'retention_policies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('days', sa.Integer(), nullable=False),
        sa.Column('updated_by', sa.String(length=80), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('process_key'),
    )
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_instances_def_created', ['definition_id', 'created_at'], unique=False)
        batch_op.create_index('ix_instances_created', ['created_at'], unique=False)
        batch_op.create_index('ix_instances_started_by', ['started_by', 'created_at'], unique=False)
        batch_op.create_index('ix_instances_status_ended', ['status', 'ended_at'], unique=False)
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_created', ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_created')
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.drop_index('ix_instances_status_ended')
        batch_op.drop_index('ix_instances_started_by')
        batch_op.drop_index('ix_instances_created')
        batch_op.drop_index('ix_instances_def_created')
        batch_op.drop_column('purged_at')
    op.drop_table('retention_policies')
