"""survey responses, portal searches

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 18:50:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import assistant.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("response_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("ticket_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("customer_ref", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("csat", sa.Integer(), nullable=True),
        sa.Column("ces", sa.Integer(), nullable=True),
        sa.Column("nps", sa.Integer(), nullable=True),
        sa.Column("comment", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("responded_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("responded_day", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("responded_week", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("received_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "response_id", name="uq_survey_responses_source_response_id"),
    )
    op.create_index("ix_survey_responses_ticket", "survey_responses", ["source", "ticket_id"], unique=False)
    op.create_index("ix_survey_responses_responded_at", "survey_responses", ["responded_at"], unique=False)
    op.create_index("ix_survey_responses_customer_ref", "survey_responses", ["customer_ref"], unique=False)
    op.create_table(
        "portal_searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("searched_at", assistant.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("customer_ref", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("query", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("results", sa.Integer(), nullable=False),
        sa.Column("top_score", sa.Float(), nullable=True),
        sa.Column("top_faq_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_portal_searches_searched_at", "portal_searches", ["searched_at"], unique=False)
    op.create_index("ix_portal_searches_customer", "portal_searches", ["customer_ref", "searched_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_portal_searches_customer", table_name="portal_searches")
    op.drop_index("ix_portal_searches_searched_at", table_name="portal_searches")
    op.drop_table("portal_searches")
    op.drop_index("ix_survey_responses_customer_ref", table_name="survey_responses")
    op.drop_index("ix_survey_responses_responded_at", table_name="survey_responses")
    op.drop_index("ix_survey_responses_ticket", table_name="survey_responses")
    op.drop_table("survey_responses")
