"""single sign-on: the back-channel logout tokens taken, shared by every process (replays refused everywhere)

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-05 15:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('oidc_logout_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('jti', sa.String(length=255), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('issuer', 'jti', name='uq_oidc_logout_tokens_issuer_jti')
    )
    op.create_index(op.f('ix_oidc_logout_tokens_expires_at'), 'oidc_logout_tokens', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_oidc_logout_tokens_expires_at'), table_name='oidc_logout_tokens')
    op.drop_table('oidc_logout_tokens')
