"""replies belong to their command; edits know whether the command was refused

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 22:00:00

``outboxmessage.in_reply_to`` and ``thread_root``: a reply to a command is sent as a Matrix
reply to the command's event (``m.in_reply_to``), inside the command's thread when it was
sent in one (``rel_type: m.thread``). ``inboundevent.refused``: the event was answered only
with refusals (nothing changed), so an edit of it (``m.replace``) is carried out as the
corrected command.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outboxmessage') as batch:
        batch.add_column(sa.Column('in_reply_to', sa.String(), nullable=True))
        batch.add_column(sa.Column('thread_root', sa.String(), nullable=True))
    with op.batch_alter_table('inboundevent') as batch:
        batch.add_column(sa.Column('refused', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('inboundevent') as batch:
        batch.drop_column('refused')
    with op.batch_alter_table('outboxmessage') as batch:
        batch.drop_column('thread_root')
        batch.drop_column('in_reply_to')
