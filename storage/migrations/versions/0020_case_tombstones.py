"""case tombstones: cases erased before their retention term

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-01 07:00:00

``casetombstone``: a case erased on the administrator's order (``casusbot case erase``,
issue 24): its random ID (never given out again), the overleg, the ground and when.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'casetombstone',
        sa.Column('code', sa.String(), nullable=False),
        sa.Column('overleg_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(), nullable=False),
        sa.Column('erased_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('code'),
    )
    op.create_index(op.f('ix_casetombstone_overleg_id'), 'casetombstone', ['overleg_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_casetombstone_overleg_id'), table_name='casetombstone')
    op.drop_table('casetombstone')
