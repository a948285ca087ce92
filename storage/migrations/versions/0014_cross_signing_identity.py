"""the bot account's one cross-signing identity

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 04:00:00

``crosssigningidentity``: one row per bot account, its master key's public part and its
three private cross-signing keys sealed under a key from the configuration, so that every
instance (and every new store) signs its device with the same identity instead of creating
a new one (issue 25).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'crosssigningidentity',
        sa.Column('user_id', sa.String(), primary_key=True),
        sa.Column('master_public', sa.String(), nullable=False),
        sa.Column('sealed', sa.String(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('crosssigningidentity')
