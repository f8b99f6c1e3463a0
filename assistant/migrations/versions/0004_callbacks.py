"""callback subscriptions and outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 16:45:04.012240
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import assistant.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("secret", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "callback_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("event", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", assistant.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("created_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", assistant.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["subscription_id"], ["callback_subscriptions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_callback_outbox_due", "callback_outbox", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_callback_outbox_due", table_name="callback_outbox")
    op.drop_table("callback_outbox")
    op.drop_table("callback_subscriptions")
