"""ticket timings: whether the service routed the ticket and the created time taken from it, so its timings outlive
the ticket's erasure

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 21:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

import assistant.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_timings") as batch:
        batch.add_column(sa.Column("routed", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("ticket_created_at", assistant.db.UTCDateTime(timezone=True), nullable=True))
    # Timings of tickets erased before this revision cannot be told apart any more; those of tickets still here can.
    # The created time is the ticket's where no creation event stood in for it, as the timings were worked out until
    # now; `assistant recompute-timings` works both columns out again.
    op.execute(
        """
        UPDATE ticket_timings SET
            routed = TRUE,
            ticket_created_at = CASE WHEN EXISTS (
                SELECT 1 FROM interaction_events e
                WHERE e.source = ticket_timings.source AND e.ticket_id = ticket_timings.ticket_id
                    AND e.kind = 'ticket_created'
            ) THEN NULL ELSE ticket_timings.created_at END
        WHERE EXISTS (
            SELECT 1 FROM tickets t WHERE t.source = ticket_timings.source AND t.external_id = ticket_timings.ticket_id
        )
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("ticket_timings") as batch:
        batch.drop_column("ticket_created_at")
        batch.drop_column("routed")
