"""saved views: a list page's filter kept under a name, private, shared with a group or with everyone

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 09:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('saved_views',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('owner', sa.String(length=80), nullable=False),
    sa.Column('page', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('query', sa.String(length=2000), nullable=False),
    sa.Column('shared', sa.String(length=10), nullable=False),
    sa.Column('group_name', sa.String(length=120), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('owner', 'page', 'name', name='uq_saved_views_owner_page_name'),
    sa.UniqueConstraint('uuid')
    )
    op.create_index('ix_saved_views_page_shared', 'saved_views', ['page', 'shared'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_saved_views_page_shared', table_name='saved_views')
    op.drop_table('saved_views')
