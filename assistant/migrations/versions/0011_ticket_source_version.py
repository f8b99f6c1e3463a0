"""tickets: the ticketing system's time of the newest version stored, so that an older delivery arriving late
changes nothing

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 23:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

import assistant.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("source_updated_at", assistant.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("source_updated_at")
