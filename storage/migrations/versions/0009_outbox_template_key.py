"""outbox rows rendered when written, with their template key

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 20:00:00

Every outbox row is rendered when it is written (the one render path); the ``deferred``
column of 0007 goes. ``template`` keeps the key of the template a row was rendered from
(for logs and tests; never the message's values).

A row still waiting in the deferred form cannot be rendered here (rendering lives in the
bot, not in the database layer): the upgrade refuses while such rows are unsent. Let the
previous release send its backlog first (``casusbot doctor`` shows it), then migrate.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.db import MigrationRefused

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    waiting = op.get_bind().execute(sa.text(
        "SELECT COUNT(*) FROM outboxmessage WHERE deferred IS NOT NULL AND sent_at IS NULL"
    )).scalar()
    if waiting:
        raise MigrationRefused(
            f"{waiting} outbox messages of the previous release are not sent yet and this "
            "upgrade cannot render them; start the previous release until `casusbot doctor` "
            "shows the outbox empty (the homeserver must be reachable), then upgrade")
    with op.batch_alter_table('outboxmessage') as batch:
        batch.drop_column('deferred')
        batch.add_column(sa.Column('template', sa.String(), nullable=False,
                                   server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('outboxmessage') as batch:
        batch.drop_column('template')
        batch.add_column(sa.Column('deferred', sa.String(), nullable=True))
