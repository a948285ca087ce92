"""agenda polls closed by m.poll.end

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 04:30:00

``pollend``: an agenda's poll closed (``m.poll.end``, MSC3381) at ``ended_at``; responses
sent after it are not counted (issue 19).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pollend',
        sa.Column('poll_event_id', sa.String(), nullable=False),
        sa.Column('ended_at', UTCDateTime(), nullable=False),
        sa.Column('sender', sa.String(), nullable=False),
        sa.PrimaryKeyConstraint('poll_event_id'),
    )


def downgrade() -> None:
    op.drop_table('pollend')
