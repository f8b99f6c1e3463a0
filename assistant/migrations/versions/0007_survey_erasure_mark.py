"""survey responses: when a customer's erasure stripped the response

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 11:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import assistant.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("survey_responses") as batch:
        batch.add_column(sa.Column("erased_at", assistant.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("survey_responses") as batch:
        batch.drop_column("erased_at")
