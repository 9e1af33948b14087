"""Create the tickets and outbox_messages tables.

Revision ID: 2749cfb359c3
Revises:
Create Date: 2026-12-04 15:52:16 UTC
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "2749cfb359c3"
down_revision = None
branch_labels = None
depends_on = None

OUTBOX_STATUS_CHECK = (
    "status IN ('pending', 'sending', 'unknown', 'sent', 'failed', 'not_sent')"
)


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("handoff_key", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("preferred_language", sa.String(length=16), nullable=True),
        sa.Column("call_time", sa.String(length=200), nullable=True),
        sa.Column("consent_contact", sa.Boolean(), nullable=False),
        sa.Column("consent_share_screening", sa.Boolean(), nullable=False),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("screening_profile", sa.JSON(), nullable=True),
        sa.Column("screening_result", sa.JSON(), nullable=True),
        sa.Column("previous_ticket_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["previous_ticket_id"],
            ["tickets.id"],
            name="fk_tickets_previous_ticket_id_tickets",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
        sa.UniqueConstraint("reference", name="uq_tickets_reference"),
        sa.UniqueConstraint("handoff_key", name="uq_tickets_handoff_key"),
    )
    op.create_index("ix_tickets_phone", "tickets", ["phone"])
    op.create_index("ix_tickets_member_id", "tickets", ["member_id"])
    op.create_index("ix_tickets_status", "tickets", ["status"])
    op.create_index("ix_tickets_created_at", "tickets", ["created_at"])
    op.create_index("ix_tickets_conversation_id", "tickets", ["conversation_id"])

    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("to_number", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_sid", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(OUTBOX_STATUS_CHECK, name="ck_outbox_messages_status"),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name="fk_outbox_messages_ticket_id_tickets",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_messages"),
    )
    op.create_index(
        "ix_outbox_messages_status_next_attempt_at",
        "outbox_messages",
        ["status", "next_attempt_at"],
    )
    op.create_index("ix_outbox_messages_ticket_id", "outbox_messages", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_ticket_id", table_name="outbox_messages")
    op.drop_index(
        "ix_outbox_messages_status_next_attempt_at", table_name="outbox_messages"
    )
    op.drop_table("outbox_messages")

    op.drop_index("ix_tickets_conversation_id", table_name="tickets")
    op.drop_index("ix_tickets_created_at", table_name="tickets")
    op.drop_index("ix_tickets_status", table_name="tickets")
    op.drop_index("ix_tickets_member_id", table_name="tickets")
    op.drop_index("ix_tickets_phone", table_name="tickets")
    op.drop_table("tickets")
