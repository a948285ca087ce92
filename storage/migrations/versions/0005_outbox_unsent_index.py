"""a partial index on the outbox's unsent rows

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 08:00:00

The deliverer asks for unsent rows on every pass; sent rows are kept, so without this
index each pass read the whole outbox history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_outbox_unsent', 'outboxmessage', ['room_id', 'id'], unique=False,
                    sqlite_where=sa.text('sent_at IS NULL'),
                    postgresql_where=sa.text('sent_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_outbox_unsent', table_name='outboxmessage')
