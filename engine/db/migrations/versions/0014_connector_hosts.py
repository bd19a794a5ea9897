"""the HTTP connector's allow-list

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25 23:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('connector_hosts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('pattern', sa.String(length=255), nullable=False),
    sa.Column('allow_private', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pattern'),
    sa.UniqueConstraint('uuid')
    )


def downgrade() -> None:
    op.drop_table('connector_hosts')
