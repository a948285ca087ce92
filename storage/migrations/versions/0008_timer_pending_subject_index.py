"""a partial index on pending timers by subject

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 19:00:00

Adding, changing or closing an action (a meeting, a case) cancels its pending timers first;
without this index that read every pending timer of every overleg (two per open action:
342,000 at national scale) on each such command.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_timer_pending_subject', 'timer', ['subject_id', 'kind'], unique=False,
                    sqlite_where=sa.text('handled_at IS NULL'),
                    postgresql_where=sa.text('handled_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_timer_pending_subject', table_name='timer')
