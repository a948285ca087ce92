"""action numbers are never given out again within an overleg

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 08:10:00

``overleg.last_action_number``: the highest action number (A1, A2…) ever issued in the
overleg (issue 24). An erased or purged case's actions leave no rows, so numbering by the
highest existing row gave their numbers out again and old audit entries (whose subject names
only ``A<n>``) read as a new action's. Initialised from the highest existing action and from
the ``action.*`` audit entries, whose subjects start with the number.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

_NUMBER = re.compile(r"A(\d+)\b")


def upgrade() -> None:
    with op.batch_alter_table('overleg') as batch:
        batch.add_column(sa.Column('last_action_number', sa.Integer(), nullable=False,
                                   server_default='0'))
    bind = op.get_bind()
    highest: dict[int, int] = {}
    for overleg_id, number in bind.execute(sa.text(
            "SELECT overleg_id, MAX(number) FROM action GROUP BY overleg_id")):
        highest[overleg_id] = max(highest.get(overleg_id, 0), int(number or 0))
    for overleg_id, subject in bind.execute(sa.text(
            "SELECT overleg_id, subject FROM auditentry "
            "WHERE action LIKE 'action.%' AND overleg_id IS NOT NULL")):
        found = _NUMBER.match(subject or "")
        if found:
            highest[overleg_id] = max(highest.get(overleg_id, 0), int(found[1]))
    for overleg_id, number in highest.items():
        bind.execute(sa.text("UPDATE overleg SET last_action_number = :n WHERE id = :id"),
                     {"n": number, "id": overleg_id})


def downgrade() -> None:
    with op.batch_alter_table('overleg') as batch:
        batch.drop_column('last_action_number')
