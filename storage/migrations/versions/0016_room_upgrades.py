"""overleg rooms replaced by an upgrade

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 04:00:00

``roomupgrade``: an overleg's room was replaced (``m.room.tombstone``) by ``new_room_id``;
the overleg moves there when the bot has joined it (``moved_at``), and the old room gets no
further messages (issue 19). ``invite_asked_at``: the bot could not join the new room and
asked the chairs to invite it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'roomupgrade',
        sa.Column('old_room_id', sa.String(), nullable=False),
        sa.Column('new_room_id', sa.String(), nullable=False),
        sa.Column('sender', sa.String(), nullable=False),
        sa.Column('tombstoned_at', UTCDateTime(), nullable=False),
        sa.Column('moved_at', UTCDateTime(), nullable=True),
        sa.Column('invite_asked_at', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('old_room_id'),
    )
    op.create_index('ix_roomupgrade_new_room_id', 'roomupgrade', ['new_room_id'])


def downgrade() -> None:
    op.drop_index('ix_roomupgrade_new_room_id', table_name='roomupgrade')
    op.drop_table('roomupgrade')
