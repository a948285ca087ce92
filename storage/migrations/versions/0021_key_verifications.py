"""interactive verifications of the bot by an administrator

Revision ID: 0021
Revises: 0017
Create Date: 2026-12-01 07:20:00

``keyverification``: one row per verification request an administrator sent the bot (SAS,
issue 22): its state from ``ready`` to ``done`` or ``cancelled``, so that the answer
(``!verifieer ja``) can be recorded by any instance and a flow cut off by a restart is
cancelled, never left half-done.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'keyverification',
        sa.Column('flow_id', sa.String(), nullable=False),
        sa.Column('device_id', sa.String(), nullable=False),
        sa.Column('user_id', sa.String(), nullable=False),
        sa.Column('other_device', sa.String(), nullable=False),
        sa.Column('room_id', sa.String(), nullable=True),
        sa.Column('state', sa.String(), nullable=False),
        sa.Column('reason', sa.String(), nullable=True),
        sa.Column('started_at', UTCDateTime(), nullable=False),
        sa.Column('ended_at', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('flow_id'),
    )
    op.create_index('ix_keyverification_device_id', 'keyverification', ['device_id'])


def downgrade() -> None:
    op.drop_index('ix_keyverification_device_id', table_name='keyverification')
    op.drop_table('keyverification')
