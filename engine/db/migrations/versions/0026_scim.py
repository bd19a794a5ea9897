"""SCIM provisioning: users and groups get a SCIM id, the identity provider's externalId and times

Every existing user and group gets a random SCIM id (the resource id an identity provider sees);
groups get `created_at` (now, for those that exist) and both get `modified_at` (SCIM's
meta.lastModified). Users keep SCIM's name parts (givenName, familyName, ...) in `name_parts`.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 12:10:00
"""
import uuid

from alembic import op
import sqlalchemy as sa


revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('users', 'groups'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('scim_id', sa.String(length=36), nullable=True))
            batch.add_column(sa.Column('external_id', sa.String(length=255), nullable=True))
            batch.add_column(sa.Column('modified_at', sa.DateTime(timezone=True), nullable=True))
            if table == 'groups':
                batch.add_column(sa.Column('created_at', sa.DateTime(timezone=True), nullable=True))
            else:
                batch.add_column(sa.Column('name_parts', sa.JSON(), nullable=True))
            batch.create_unique_constraint(f'uq_{table}_scim_id', ['scim_id'])
            batch.create_index(f'ix_{table}_external_id', ['external_id'])
    conn = op.get_bind()
    for table in ('users', 'groups'):
        rows = sa.table(table, sa.column('id', sa.Integer), sa.column('scim_id', sa.String))
        for (row_id,) in conn.execute(sa.select(rows.c.id)).all():
            conn.execute(rows.update().where(rows.c.id == row_id).values(scim_id=str(uuid.uuid4())))
    groups = sa.table('groups', sa.column('created_at', sa.DateTime))
    conn.execute(groups.update().values(created_at=sa.func.current_timestamp()))


def downgrade() -> None:
    for table in ('users', 'groups'):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f'ix_{table}_external_id')
            batch.drop_constraint(f'uq_{table}_scim_id', type_='unique')
            for column in ('scim_id', 'external_id', 'modified_at', 'created_at' if table == 'groups' else 'name_parts'):
                batch.drop_column(column)
