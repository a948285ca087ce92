"""teams conversations and unreachable notes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 07:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('teamsconversation',
    sa.Column('conversation_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('reference_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('personal_user', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('updated_at', storage.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('conversation_id')
    )
    op.create_index(op.f('ix_teamsconversation_personal_user'), 'teamsconversation',
                    ['personal_user'], unique=False)
    op.create_table('teamsunreachable',
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('noted_at', storage.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('user_id')
    )


def downgrade() -> None:
    op.drop_table('teamsunreachable')
    op.drop_index(op.f('ix_teamsconversation_personal_user'), table_name='teamsconversation')
    op.drop_table('teamsconversation')
