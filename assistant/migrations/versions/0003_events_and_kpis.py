"""events, ticket timings, business hours

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 16:07:00.439948
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import assistant.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "business_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("updated_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("department"),
    )
    op.create_table(
        "interaction_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("ticket_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("occurred_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("actor_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("received_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "event_id", name="uq_interaction_events_source_event_id"),
    )
    op.create_index("ix_interaction_events_ticket", "interaction_events", ["source", "ticket_id"], unique=False)
    op.create_table(
        "ticket_timings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ticket_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("agent", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("created_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_day", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("created_week", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("reply_due_from", assistant.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_reply_at", assistant.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_solved_at", assistant.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_solved_at", assistant.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("solved_day", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("solved_week", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("solved", sa.Boolean(), nullable=False),
        sa.Column("agent_replies", sa.Integer(), nullable=False),
        sa.Column("reopens", sa.Integer(), nullable=False),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.Column("fcr", sa.Boolean(), nullable=True),
        sa.Column("frt_seconds", sa.Float(), nullable=True),
        sa.Column("frt_business_seconds", sa.Float(), nullable=True),
        sa.Column("first_resolution_seconds", sa.Float(), nullable=True),
        sa.Column("first_resolution_business_seconds", sa.Float(), nullable=True),
        sa.Column("full_resolution_seconds", sa.Float(), nullable=True),
        sa.Column("full_resolution_business_seconds", sa.Float(), nullable=True),
        sa.Column("updated_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "ticket_id", name="uq_ticket_timings_source_ticket_id"),
    )
    op.create_index("ix_ticket_timings_created_at", "ticket_timings", ["created_at"], unique=False)
    op.create_index("ix_ticket_timings_last_solved_at", "ticket_timings", ["last_solved_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ticket_timings_last_solved_at", table_name="ticket_timings")
    op.drop_index("ix_ticket_timings_created_at", table_name="ticket_timings")
    op.drop_table("ticket_timings")
    op.drop_index("ix_interaction_events_ticket", table_name="interaction_events")
    op.drop_table("interaction_events")
    op.drop_table("business_hours")
