"""a member's display name on Teams

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 12:00:00

``member.display_name``: the name Teams shows for the member (from the @mention that added
them, or from their own messages), so replies name people instead of ``29:…`` IDs. Kept only
as long as the membership: the row goes with it. Never passed to the command core.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('member') as batch:
        batch.add_column(sa.Column('display_name', sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('member') as batch:
        batch.drop_column('display_name')
