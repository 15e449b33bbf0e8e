"""waitlist: patients waiting for an earlier place (the ASAP list)

Revision ID: 0008_waitlist
Revises: 0007_patient_merge
Create Date: 2026-12-05 07:45:00

A new table only (``waitlist_entry``), so SQLite needs no batch mode: no existing table is
copied or rebuilt.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_waitlist"
down_revision: str | None = "0007_patient_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "waitlist_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("session_type", sa.String(length=64), nullable=False),
        sa.Column("weekdays", JSON, nullable=False),
        sa.Column("earliest_minute", sa.Integer(), nullable=True),
        sa.Column("latest_minute", sa.Integer(), nullable=True),
        sa.Column("room_ids", JSON, nullable=False),
        sa.Column("staff_ids", JSON, nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('waiting', 'booked', 'expired', 'removed')",
            name=op.f("ck_waitlist_entry_status"),
        ),
        sa.CheckConstraint(
            "kind IN ('earlier', 'series_start', 'preferred_time')",
            name=op.f("ck_waitlist_entry_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_waitlist_entry_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_waitlist_entry_appointment_id_appointment"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["app_user.id"],
            name=op.f("fk_waitlist_entry_created_by_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entry")),
    )
    op.create_index("ix_waitlist_entry_queue", "waitlist_entry", ["status", "deadline"])
    op.create_index(op.f("ix_waitlist_entry_patient_id"), "waitlist_entry", ["patient_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_waitlist_entry_patient_id"), table_name="waitlist_entry")
    op.drop_index("ix_waitlist_entry_queue", table_name="waitlist_entry")
    op.drop_table("waitlist_entry")
