"""Record which API token wrote a ticket note.

`ticket_notes.api_token_id` names the token of a note added through the
JSON API, as `ticket_status_changes.api_token_id` does for status changes.
Notes written before this revision keep no token, so their author stays
unknown when no staff user wrote them.

Revision ID: 8d4f1a6c3e27
Revises: 5b7d2e9c4a10
Create Date: 2026-12-13
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "8d4f1a6c3e27"
down_revision = "5b7d2e9c4a10"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_notes") as batch:
        batch.add_column(sa.Column("api_token_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_ticket_notes_api_token_id_api_tokens",
            "api_tokens",
            ["api_token_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("ticket_notes") as batch:
        batch.drop_constraint(
            "fk_ticket_notes_api_token_id_api_tokens", type_="foreignkey"
        )
        batch.drop_column("api_token_id")
