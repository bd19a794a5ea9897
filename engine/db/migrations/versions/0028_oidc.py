"""single sign-on: users as an OpenID provider knows them; the provider's session id and ID token of a session

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05 12:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('oidc_identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_sign_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('issuer', 'subject', name='uq_oidc_identities_issuer_subject')
    )
    op.create_index(op.f('ix_oidc_identities_user_id'), 'oidc_identities', ['user_id'], unique=False)
    with op.batch_alter_table('web_sessions') as batch:
        batch.add_column(sa.Column('oidc_sid', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('id_token', sa.Text(), nullable=True))
        batch.create_index(batch.f('ix_web_sessions_oidc_sid'), ['oidc_sid'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('web_sessions') as batch:
        batch.drop_index(batch.f('ix_web_sessions_oidc_sid'))
        batch.drop_column('id_token')
        batch.drop_column('oidc_sid')
    op.drop_index(op.f('ix_oidc_identities_user_id'), table_name='oidc_identities')
    op.drop_table('oidc_identities')
