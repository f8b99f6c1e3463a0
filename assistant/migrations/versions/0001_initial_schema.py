"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 13:27:45.495554
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import assistant.db

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("prefix", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("key_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", assistant.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_api_keys_key_hash"), "api_keys", ["key_hash"], unique=True)
    op.create_table(
        "tickets",
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("customer_ref", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("customer_tier", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("intent", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("needs_human_triage", sa.Boolean(), nullable=False),
        sa.Column("created_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "external_id", name="uq_tickets_source_external_id"),
    )
    op.create_index(op.f("ix_tickets_customer_ref"), "tickets", ["customer_ref"], unique=False)
    op.create_index(op.f("ix_tickets_department"), "tickets", ["department"], unique=False)
    op.create_table(
        "routing_decisions",
        sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("intent", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("intent_confidence", sa.Float(), nullable=True),
        sa.Column("alternatives", sa.JSON(), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("urgency", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("needs_human_triage", sa.Boolean(), nullable=False),
        sa.Column("triage_reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("rule", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("model_version", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("created_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_routing_decisions_ticket_id_id", "routing_decisions", ["ticket_id", "id"], unique=False)
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("received_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["decision_id"], ["routing_decisions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "external_id", "event_id", name="uq_webhook_deliveries_key"),
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_routing_decisions_ticket_id_id", table_name="routing_decisions")
    op.drop_table("routing_decisions")
    op.drop_index(op.f("ix_tickets_department"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_customer_ref"), table_name="tickets")
    op.drop_table("tickets")
    op.drop_index(op.f("ix_api_keys_key_hash"), table_name="api_keys")
    op.drop_table("api_keys")
