"""ticket timings: whether the service routed the ticket, so its timings outlive the ticket's erasure

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 21:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_timings") as batch:
        batch.add_column(sa.Column("routed", sa.Boolean(), nullable=False, server_default=sa.false()))
    # Timings of tickets erased before this revision cannot be told apart any more; those of tickets still here can.
    op.execute(
        """
        UPDATE ticket_timings SET routed = TRUE
        WHERE EXISTS (
            SELECT 1 FROM tickets t WHERE t.source = ticket_timings.source AND t.external_id = ticket_timings.ticket_id
        )
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("ticket_timings") as batch:
        batch.drop_column("routed")
