"""portal searches: day and week columns for grouping deflection

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 19:00:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("portal_searches") as batch:
        batch.add_column(sa.Column("searched_day", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True))
        batch.add_column(sa.Column("searched_week", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("portal_searches") as batch:
        batch.drop_column("searched_week")
        batch.drop_column("searched_day")
