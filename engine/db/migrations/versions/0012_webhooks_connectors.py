"""webhooks and HTTP connector service tasks

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 23:00:00
"""
from alembic import op  # noqa: F401 - filled in by the work this revision is reserved for
import sqlalchemy as sa  # noqa: F401


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
