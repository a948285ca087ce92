"""meeting series

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 07:00:00

``meetingseries``: a series of meetings on a fixed cadence (S1, S2… per overleg): its
recurrence rule (RFC 5545, without DTSTART and UNTIL), its first and last day, the wall
clock time in its time zone, length, place, kind and what was done with occurrences on a
day off. ``meeting.series_id`` and ``meeting.series_start``: an occurrence of a series
and the moment the rule gives it (its RECURRENCE-ID in the series' .ics) (issue 24).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'meetingseries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('overleg_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('rule', sa.String(), nullable=False),
        sa.Column('first_day', sa.Date(), nullable=False),
        sa.Column('last_day', sa.Date(), nullable=False),
        sa.Column('hour', sa.Integer(), nullable=False),
        sa.Column('minute', sa.Integer(), nullable=False),
        sa.Column('timezone', sa.String(), nullable=False),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.Column('place', sa.String(), nullable=True),
        sa.Column('kind', sa.String(), nullable=False),
        sa.Column('holidays', sa.String(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['overleg_id'], ['overleg.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('overleg_id', 'number'),
    )
    op.create_index('ix_meetingseries_overleg_id', 'meetingseries', ['overleg_id'])
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.add_column(sa.Column('series_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('series_start', UTCDateTime(), nullable=True))
        batch_op.create_index('ix_meeting_series_id', ['series_id'], unique=False)
        batch_op.create_foreign_key('fk_meeting_series_id', 'meetingseries',
                                    ['series_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.drop_constraint('fk_meeting_series_id', type_='foreignkey')
        batch_op.drop_index('ix_meeting_series_id')
        batch_op.drop_column('series_start')
        batch_op.drop_column('series_id')
    op.drop_index('ix_meetingseries_overleg_id', table_name='meetingseries')
    op.drop_table('meetingseries')
