"""Add conversation_state: offered buttons and SMS sender per conversation.

Revision ID: a1c0e5d2b7f4
Revises: 2749cfb359c3
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "a1c0e5d2b7f4"
down_revision = "2749cfb359c3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_state",
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("offered_choices", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_conversation_state")),
    )


def downgrade() -> None:
    op.drop_table("conversation_state")
