"""Add inbound_messages, sms_opt_outs and two outbox columns for the SMS channel.

`inbound_messages` holds each SMS that Twilio delivered, before it is
answered. `sms_opt_outs` records numbers that sent STOP or its kin.
`outbox_messages.inbound_message_id` links a reply to the SMS it answers, and
`outbox_messages.delivery_status` holds Twilio's latest status callback.

Revision ID: e198dbb0b84f
Revises: c3e81f0a9d52
Create Date: 2026-12-11
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e198dbb0b84f"
down_revision = "c3e81f0a9d52"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_sid", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("num_media", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'processing', 'done', 'failed')",
            name=op.f("ck_inbound_messages_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint(
            "message_sid", name=op.f("uq_inbound_messages_message_sid")
        ),
    )
    op.create_index(
        "ix_inbound_messages_conversation_id_status",
        "inbound_messages",
        ["conversation_id", "status"],
    )
    op.create_index("ix_inbound_messages_status", "inbound_messages", ["status"])
    op.create_index(
        "ix_inbound_messages_phone_received_at",
        "inbound_messages",
        ["phone", "received_at"],
    )

    op.create_table(
        "sms_opt_outs",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opted_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_sms_opt_outs")),
    )

    # Plain ADD COLUMN, not batch mode: copying `outbox_messages` on SQLite is
    # not needed for nullable columns without constraints.
    op.add_column(
        "outbox_messages", sa.Column("inbound_message_id", sa.Integer(), nullable=True)
    )
    op.add_column(
        "outbox_messages",
        sa.Column("delivery_status", sa.String(length=16), nullable=True),
    )
    op.create_index(
        "ix_outbox_messages_inbound_message_id",
        "outbox_messages",
        ["inbound_message_id"],
    )
    op.create_index(
        "ix_outbox_messages_to_number_status",
        "outbox_messages",
        ["to_number", "status"],
    )
    op.create_index(
        "ix_outbox_messages_provider_sid", "outbox_messages", ["provider_sid"]
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_provider_sid", table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_to_number_status", table_name="outbox_messages")
    op.drop_index(
        "ix_outbox_messages_inbound_message_id", table_name="outbox_messages"
    )
    # SQLite 3.35 and later drop a plain column in place, without copying the
    # table.
    op.drop_column("outbox_messages", "delivery_status")
    op.drop_column("outbox_messages", "inbound_message_id")

    op.drop_table("sms_opt_outs")

    op.drop_index(
        "ix_inbound_messages_phone_received_at", table_name="inbound_messages"
    )
    op.drop_index("ix_inbound_messages_status", table_name="inbound_messages")
    op.drop_index(
        "ix_inbound_messages_conversation_id_status", table_name="inbound_messages"
    )
    op.drop_table("inbound_messages")
