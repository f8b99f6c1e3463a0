"""ticket timings: when the ticket was last reopened, so a ticket solved here and reopened since is open again

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 17:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import assistant.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_timings") as batch:
        batch.add_column(sa.Column("last_reopened_at", assistant.db.UTCDateTime(timezone=True), nullable=True))
    # What the timeline would say: the newest reopened event of each ticket.
    op.execute(
        """
        UPDATE ticket_timings SET last_reopened_at = (
            SELECT max(e.occurred_at) FROM interaction_events e
            WHERE e.source = ticket_timings.source AND e.ticket_id = ticket_timings.ticket_id AND e.kind = 'reopened'
        )
        WHERE EXISTS (
            SELECT 1 FROM interaction_events e
            WHERE e.source = ticket_timings.source AND e.ticket_id = ticket_timings.ticket_id AND e.kind = 'reopened'
        )
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("ticket_timings") as batch:
        batch.drop_column("last_reopened_at")
