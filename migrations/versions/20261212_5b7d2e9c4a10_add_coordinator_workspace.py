"""Add the coordinator workspace: staff, API tokens, ticket history and audit log.

Tickets gain an assignee, a due time, the status date, a close reason and a
version for optimistic locking; `status` widens to 32 characters for the
closed-loop statuses. The services of each existing ticket are copied into
`ticket_services`, and the due time of open tickets is left empty until the
workspace sets it (`python -m bot.workspace.admin recompute-due`).

`audit_log` is append-only: triggers refuse UPDATE and DELETE on both
SQLite and PostgreSQL.

Revision ID: 5b7d2e9c4a10
Revises: e198dbb0b84f
Create Date: 2026-12-12
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "5b7d2e9c4a10"
down_revision = "e198dbb0b84f"
branch_labels = None
depends_on = None

CLOSE_REASON_CHECK = (
    "close_reason IS NULL OR close_reason IN "
    "('declined', 'unable_to_reach', 'not_eligible', 'duplicate', 'other')"
)
APPEND_ONLY_MESSAGE = "audit_log is append-only"


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('coordinator', 'supervisor', 'admin')",
            name="ck_staff_users_role",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_staff_users"),
        sa.UniqueConstraint("username", name="uq_staff_users_username"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )

    with op.batch_alter_table("tickets") as batch:
        batch.alter_column(
            "status",
            existing_type=sa.String(length=16),
            type_=sa.String(length=32),
            existing_nullable=False,
        )
        batch.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("due_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("status_date", sa.Date(), nullable=True))
        batch.add_column(
            sa.Column("close_reason", sa.String(length=32), nullable=True)
        )
        batch.add_column(
            sa.Column("version", sa.Integer(), nullable=False, server_default="1")
        )
        batch.create_foreign_key(
            "fk_tickets_assignee_id_staff_users",
            "staff_users",
            ["assignee_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_check_constraint("ck_tickets_close_reason", CLOSE_REASON_CHECK)
    op.create_index("ix_tickets_status_due_at", "tickets", ["status", "due_at"])
    op.create_index("ix_tickets_due_at", "tickets", ["due_at"])
    op.create_index(
        "ix_tickets_assignee_id_due_at", "tickets", ["assignee_id", "due_at"]
    )
    op.create_index(
        "ix_tickets_preferred_language", "tickets", ["preferred_language"]
    )

    op.create_table(
        "ticket_status_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("status_date", sa.Date(), nullable=False),
        sa.Column("close_reason", sa.String(length=32), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("api_token_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name="fk_ticket_status_changes_ticket_id_tickets",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_users.id"],
            name="fk_ticket_status_changes_user_id_staff_users",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["api_token_id"],
            ["api_tokens.id"],
            name="fk_ticket_status_changes_api_token_id_api_tokens",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_status_changes"),
    )
    op.create_index(
        "ix_ticket_status_changes_ticket_id", "ticket_status_changes", ["ticket_id"]
    )

    op.create_table(
        "ticket_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name="fk_ticket_notes_ticket_id_tickets",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_users.id"],
            name="fk_ticket_notes_user_id_staff_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_notes"),
    )
    op.create_index("ix_ticket_notes_ticket_id", "ticket_notes", ["ticket_id"])

    services = op.create_table(
        "ticket_services",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name="fk_ticket_services_ticket_id_tickets",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", "service", name="pk_ticket_services"),
    )
    op.create_index("ix_ticket_services_service", "ticket_services", ["service"])
    _copy_services(services)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("ticket_reference", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_ticket_id", "audit_log", ["ticket_id"])
    op.create_index("ix_audit_log_user_id", "audit_log", ["user_id"])
    _make_audit_log_append_only()

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')",
            name="ck_webhook_deliveries_status",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name="fk_webhook_deliveries_ticket_id_tickets",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
    )
    op.create_index(
        "ix_webhook_deliveries_status_next_attempt_at",
        "webhook_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_index(
        "ix_webhook_deliveries_ticket_id", "webhook_deliveries", ["ticket_id"]
    )


def _copy_services(services: sa.Table) -> None:
    """Copy each existing ticket's `services` list into `ticket_services`."""
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, services FROM tickets")).all()
    copied = []
    for ticket_id, value in rows:
        names = json.loads(value) if isinstance(value, str) else value
        for name in dict.fromkeys(names or []):
            copied.append({"ticket_id": ticket_id, "service": str(name)[:40]})
    if copied:
        op.bulk_insert(services, copied)


def _make_audit_log_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_refuse_change() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            f"RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'; "
            "END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE "
            "ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()"
        )
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} "
            f"ON audit_log BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
        )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_refuse_change()")
    op.drop_table("audit_log")
    op.drop_table("ticket_services")
    op.drop_table("ticket_notes")
    op.drop_table("ticket_status_changes")
    op.drop_index("ix_tickets_preferred_language", table_name="tickets")
    op.drop_index("ix_tickets_assignee_id_due_at", table_name="tickets")
    op.drop_index("ix_tickets_due_at", table_name="tickets")
    op.drop_index("ix_tickets_status_due_at", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("ck_tickets_close_reason", type_="check")
        batch.drop_constraint("fk_tickets_assignee_id_staff_users", type_="foreignkey")
        for column in (
            "version",
            "close_reason",
            "status_date",
            "status_changed_at",
            "due_at",
            "assignee_id",
        ):
            batch.drop_column(column)
        batch.alter_column(
            "status",
            existing_type=sa.String(length=32),
            type_=sa.String(length=16),
            existing_nullable=False,
        )
    op.drop_table("api_tokens")
    op.drop_table("staff_users")
