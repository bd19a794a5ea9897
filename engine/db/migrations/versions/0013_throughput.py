"""hot-path indexes and caches

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25 23:00:00
"""
from alembic import op  # noqa: F401 - filled in by the work this revision is reserved for
import sqlalchemy as sa  # noqa: F401


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
