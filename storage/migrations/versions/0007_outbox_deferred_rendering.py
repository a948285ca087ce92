"""outbox rows rendered when sent

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 12:20:00

The sweep writes a reminder's template and values (JSON) instead of its rendered text;
the deliverer renders it just before sending, at the homeserver's pace.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outboxmessage') as batch:
        batch.add_column(sa.Column('deferred', sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outboxmessage') as batch:
        batch.drop_column('deferred')
