"""watchers of requests, the daily digest's settings, a process's channel announcements

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05 12:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('instance_watchers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instances.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('instance_id', 'username', name='uq_instance_watchers_instance_user')
    )
    op.create_index('ix_instance_watchers_username', 'instance_watchers', ['username'], unique=False)
    with op.batch_alter_table('notification_settings') as batch:
        batch.add_column(sa.Column('digest_enabled', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('digest_time', sa.String(length=5), nullable=False, server_default='08:00'))
        batch.add_column(sa.Column('digest_zone', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('digest_channels', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    with op.batch_alter_table('process_definitions') as batch:
        batch.add_column(sa.Column('announce', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table('process_definitions') as batch:
        batch.drop_column('announce')
    with op.batch_alter_table('notification_settings') as batch:
        batch.drop_column('digest_channels')
        batch.drop_column('digest_zone')
        batch.drop_column('digest_time')
        batch.drop_column('digest_enabled')
    op.drop_index('ix_instance_watchers_username', table_name='instance_watchers')
    op.drop_table('instance_watchers')
