"""knowledge: faq, resolved cases, index change log, suggestion feedback

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:41:09.515315
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import assistant.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "faq_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("question", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("answer", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("embedding_model", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("created_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("external_id"),
    )
    op.create_table(
        "index_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("op", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("created_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_index_changes_collection_id", "index_changes", ["collection", "id"], unique=False)
    op.create_table(
        "resolved_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("resolution", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("intent", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("first_contact", sa.Boolean(), nullable=False),
        sa.Column("customer_ref", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("agent_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("solved_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("embedding_model", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("created_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("external_id"),
        sa.UniqueConstraint("ticket_id"),
    )
    op.create_index(op.f("ix_resolved_cases_customer_ref"), "resolved_cases", ["customer_ref"], unique=False)
    op.create_table(
        "suggestion_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("intent", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("verdict", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("created_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_suggestion_feedback_kind_target", "suggestion_feedback", ["kind", "target"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_suggestion_feedback_kind_target", table_name="suggestion_feedback")
    op.drop_table("suggestion_feedback")
    op.drop_index(op.f("ix_resolved_cases_customer_ref"), table_name="resolved_cases")
    op.drop_table("resolved_cases")
    op.drop_index("ix_index_changes_collection_id", table_name="index_changes")
    op.drop_table("index_changes")
    op.drop_table("faq_entries")
