"""a partial index on pending timers by kind

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 08:40:00

Every sweep asks which overleggen have a digest planned; without this index that read
every pending timer (two per open action).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_timer_pending_kind', 'timer', ['kind', 'overleg_id'], unique=False,
                    sqlite_where=sa.text('handled_at IS NULL'),
                    postgresql_where=sa.text('handled_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_timer_pending_kind', table_name='timer')
