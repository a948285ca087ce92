"""the times the bot was out of a room

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 03:40:00

``roomabsence``: the bot was removed from a room (left, kicked, banned) at ``left_at`` and
joined it again at ``back_at``. What was said there meanwhile is not carried out late;
timed work and messages for the room wait until the bot is back (issue 19).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'roomabsence',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('room_id', sa.String(), nullable=False),
        sa.Column('left_at', UTCDateTime(), nullable=True),
        sa.Column('back_at', UTCDateTime(), nullable=True),
        sa.Column('told_at', UTCDateTime(), nullable=True),
        sa.Column('told', sa.String(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('room_id', 'left_at'),
    )
    op.create_index('ix_roomabsence_room_id', 'roomabsence', ['room_id'])


def downgrade() -> None:
    op.drop_index('ix_roomabsence_room_id', table_name='roomabsence')
    op.drop_table('roomabsence')
