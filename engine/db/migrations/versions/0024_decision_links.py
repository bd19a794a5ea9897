"""decision links: the nonces of Approve / Reject links from emails and Teams cards that were used

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 12:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('decision_link_uses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=40), nullable=False),
    sa.Column('task_uuid', sa.String(length=36), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('nonce')
    )
    op.create_index(op.f('ix_decision_link_uses_task_uuid'), 'decision_link_uses', ['task_uuid'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_decision_link_uses_task_uuid'), table_name='decision_link_uses')
    op.drop_table('decision_link_uses')
