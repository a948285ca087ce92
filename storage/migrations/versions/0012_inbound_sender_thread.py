"""an inbound event's sender and thread

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 22:40:00

``inboundevent.sender``: an edit (``m.replace``) counts only from the original's sender
(Client-Server API, "Event replacements": replacements from another sender are ignored).
``inboundevent.thread_root``: an edit carries no thread of its own, so the answer to it goes
to the original's thread.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inboundevent') as batch:
        batch.add_column(sa.Column('sender', sa.String(), nullable=True))
        batch.add_column(sa.Column('thread_root', sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('inboundevent') as batch:
        batch.drop_column('thread_root')
        batch.drop_column('sender')
