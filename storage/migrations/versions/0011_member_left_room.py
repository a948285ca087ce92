"""a member who left the overleg's room

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 22:30:00

``member.left_room_at``: the member left (or was removed from) the overleg's room. Until
they join again they get no agendas, reminders or direct messages of that overleg (they can
no longer read the room; need-to-know), and the chair has been told.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('member') as batch:
        batch.add_column(sa.Column('left_room_at', UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('member') as batch:
        batch.drop_column('left_room_at')
