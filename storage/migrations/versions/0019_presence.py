"""presence and confidentiality at a meeting

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-01 07:00:00

``presence``: one person's confirmation of presence (and confidentiality, geheimhouding) at a
meeting; ``meeting.presence_asked_at`` and ``presence_confidential``: when the members were
asked, and whether of confidentiality too; ``overleg.ask_confidentiality``: the chair's
setting (off: attendance only); a ``meeting.start`` timer for each meeting still to come.
Issue 24.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (with a default), no table copy: other tables refer to these two.
    op.add_column('overleg', sa.Column('ask_confidentiality', sa.Boolean(), nullable=False,
                                       server_default=sa.true()))
    op.add_column('meeting', sa.Column('presence_asked_at', UTCDateTime(), nullable=True))
    op.add_column('meeting', sa.Column('presence_confidential', sa.Boolean(), nullable=False,
                                       server_default=sa.false()))
    op.create_table(
        'presence',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('meeting_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.String(), nullable=False),
        sa.Column('partner_id', sa.Integer(), nullable=True),
        sa.Column('confidential', sa.Boolean(), nullable=False),
        sa.Column('source', sa.String(), nullable=False),
        sa.Column('source_event_id', sa.String(), nullable=True),
        sa.Column('withdrawn', sa.Boolean(), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id']),
        sa.ForeignKeyConstraint(['partner_id'], ['partner.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_presence_meeting_id', 'presence', ['meeting_id'])
    op.create_index('ix_presence_source_event_id', 'presence', ['source_event_id'])
    # Meetings planned before this release get their question at the start as well (what
    # ``commands.agenda.schedule_meeting`` plans now); those of earlier days never will.
    meeting = sa.table('meeting', sa.column('id', sa.Integer()),
                       sa.column('overleg_id', sa.Integer()),
                       sa.column('starts_at', UTCDateTime()), sa.column('status', sa.String()))
    timer = sa.table('timer', sa.column('overleg_id', sa.Integer()),
                     sa.column('kind', sa.String()), sa.column('subject_id', sa.Integer()),
                     sa.column('due_at', UTCDateTime()), sa.column('cancelled', sa.Boolean()))
    now = op.get_context().config.attributes.get("now")
    if now is None:  # (no time of the upgrade given: nothing to plan from; see migrate())
        return
    since = sa.bindparam('since', now - timedelta(days=1), type_=UTCDateTime())
    op.execute(timer.insert().from_select(
        ['overleg_id', 'kind', 'subject_id', 'due_at', 'cancelled'],
        sa.select(meeting.c.overleg_id, sa.literal('meeting.start'), meeting.c.id,
                  meeting.c.starts_at, sa.false())
        .where(meeting.c.status == 'planned', meeting.c.starts_at >= since)))


def downgrade() -> None:
    op.execute("DELETE FROM timer WHERE kind = 'meeting.start'")
    op.drop_index('ix_presence_source_event_id', table_name='presence')
    op.drop_index('ix_presence_meeting_id', table_name='presence')
    op.drop_table('presence')
    op.drop_column('meeting', 'presence_confidential')
    op.drop_column('meeting', 'presence_asked_at')
    op.drop_column('overleg', 'ask_confidentiality')
