"""token scopes and system accounts: every API token carries scopes; users have a kind

Existing tokens get every scope their user's roles allow (today's behaviour). Accounts whose
only roles are system roles (api, external-worker) become system accounts: they cannot sign in
to the web UI, so their password is removed and their browser sessions (web_sessions, 0020) end.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 06:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

# engine.core.permissions.scopes_of_roles as of this revision, frozen (migrations import no engine code)
ROLE_SCOPES = {
    'admin': ['admin', 'audit:read', 'decisions:evaluate', 'definitions:deploy', 'definitions:read', 'external-tasks',
              'instances:cancel', 'instances:read', 'instances:read-all', 'instances:start', 'messages', 'signals',
              'tasks:complete', 'tasks:read'],
    'designer': ['decisions:evaluate', 'definitions:deploy', 'definitions:read', 'external-tasks', 'instances:cancel',
                 'instances:read', 'instances:read-all', 'instances:start', 'tasks:complete', 'tasks:read'],
    'approver': ['definitions:read', 'instances:cancel', 'instances:read', 'instances:start', 'tasks:complete',
                 'tasks:read'],
    'auditor': ['audit:read', 'definitions:read', 'external-tasks', 'instances:read', 'instances:read-all',
                'tasks:complete', 'tasks:read'],
    'api': ['audit:read', 'decisions:evaluate', 'definitions:read', 'external-tasks', 'instances:cancel',
            'instances:read', 'instances:read-all', 'instances:start', 'messages', 'signals', 'tasks:complete',
            'tasks:read'],
    'external-worker': ['external-tasks'],
}
SYSTEM_ROLES = {'api', 'external-worker'}

users = sa.table('users', sa.column('id', sa.Integer), sa.column('roles', sa.JSON), sa.column('kind', sa.String),
                 sa.column('password_hash', sa.String), sa.column('session_epoch', sa.Integer))
web_sessions = sa.table('web_sessions', sa.column('user_id', sa.Integer), sa.column('ended_at', sa.DateTime),
                        sa.column('end_reason', sa.String))
tokens = sa.table('api_tokens', sa.column('id', sa.Integer), sa.column('user_id', sa.Integer),
                  sa.column('scopes', sa.JSON))


def upgrade() -> None:
    op.add_column('users', sa.Column('kind', sa.String(length=10), nullable=False, server_default='person'))
    op.add_column('api_tokens', sa.Column('scopes', sa.JSON(), nullable=False, server_default='[]'))
    conn = op.get_bind()
    roles = {row.id: set(row.roles or []) for row in conn.execute(sa.select(users.c.id, users.c.roles))}
    for token in conn.execute(sa.select(tokens.c.id, tokens.c.user_id)).all():
        scopes = sorted({s for r in roles.get(token.user_id, ()) for s in ROLE_SCOPES.get(r, ())})
        conn.execute(tokens.update().where(tokens.c.id == token.id).values(scopes=scopes))
    for user_id, user_roles in roles.items():
        if user_roles and user_roles <= SYSTEM_ROLES:
            conn.execute(users.update().where(users.c.id == user_id).values(
                kind='system', password_hash=None, session_epoch=users.c.session_epoch + 1))
            conn.execute(web_sessions.update().where(
                web_sessions.c.user_id == user_id, web_sessions.c.ended_at.is_(None)).values(
                ended_at=sa.func.current_timestamp(), end_reason='system_account'))


def downgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_column('scopes')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('kind')
