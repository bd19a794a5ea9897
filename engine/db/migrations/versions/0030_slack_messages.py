"""slack messages: the direct messages the Slack app posted about a task, updated in place when it closes

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05 15:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('slack_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('slack_user', sa.String(length=32), nullable=True),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('ts', sa.String(length=32), nullable=False),
    sa.Column('buttons', sa.Boolean(), nullable=False),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['task_id'], ['human_tasks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel', 'ts', name='uq_slack_messages_channel_ts')
    )
    op.create_index(op.f('ix_slack_messages_task_id'), 'slack_messages', ['task_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_slack_messages_task_id'), table_name='slack_messages')
    op.drop_table('slack_messages')
