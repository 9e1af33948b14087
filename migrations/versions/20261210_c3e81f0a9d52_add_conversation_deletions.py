"""Add conversation_deletions and tickets.pseudonymised_at.

A member can delete a conversation. Its unworked tickets are pseudonymised
(`tickets.pseudonymised_at` records when), and the request waits in
`conversation_deletions` until the tracker events are deleted.

Revision ID: c3e81f0a9d52
Revises: a1c0e5d2b7f4
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c3e81f0a9d52"
down_revision = "a1c0e5d2b7f4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "tickets",
        sa.Column("pseudonymised_at", sa.DateTime(timezone=True), nullable=True),
    )

    op.create_table(
        "conversation_deletions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("events_deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_deletions")),
    )
    op.create_index(
        "ix_conversation_deletions_events_deleted_at",
        "conversation_deletions",
        ["events_deleted_at"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_conversation_deletions_events_deleted_at",
        table_name="conversation_deletions",
    )
    op.drop_table("conversation_deletions")
    # Not batch mode: copying `tickets` on SQLite would drop the old table, and
    # with foreign keys on, that deletes every outbox row by ON DELETE CASCADE.
    # SQLite 3.35 and later drop a plain column in place.
    op.drop_column("tickets", "pseudonymised_at")
