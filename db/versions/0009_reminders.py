"""reminders: each patient's consent to e-mail reminders, and the reminder outbox

Revision ID: 0009_reminders
Revises: 0008_waitlist
Create Date: 2026-12-05 08:30:00

New tables only (``reminder_consent``, ``reminder_message``), so SQLite needs no batch mode: no
existing table is copied or rebuilt.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_reminders"
down_revision: str | None = "0008_waitlist"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reminder_consent",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("opted_in", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_reminder_consent_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["app_user.id"],
            name=op.f("fk_reminder_consent_recorded_by_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_reminder_consent")),
    )
    op.create_table(
        "reminder_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("to_address", sa.String(length=120), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'sent', 'failed', 'dropped')",
            name=op.f("ck_reminder_message_status"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_reminder_message_appointment_id_appointment"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_reminder_message_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_message")),
    )
    op.create_index("ix_reminder_message_queue", "reminder_message", ["status", "next_attempt_at"])
    op.create_index(
        op.f("ix_reminder_message_appointment_id"), "reminder_message", ["appointment_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_reminder_message_appointment_id"), table_name="reminder_message")
    op.drop_index("ix_reminder_message_queue", table_name="reminder_message")
    op.drop_table("reminder_message")
    op.drop_table("reminder_consent")
