"""rebooking and fees: late-cancellation and no-show fees, and what became of a missed session

Revision ID: 0011_rebooking_fees
Revises: 0010_confirmations
Create Date: 2026-12-05 12:10:00

New tables only (``session_fee``, ``series_rebooking``), so SQLite needs no batch mode: no
existing table is copied or rebuilt.  The amounts come from ``[fees]`` in the clinic's settings.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_rebooking_fees"
down_revision: str | None = "0010_confirmations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "session_fee",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("charged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("charged_by_id", sa.Integer(), nullable=True),
        sa.Column("waived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waived_by_id", sa.Integer(), nullable=True),
        sa.Column("waive_reason", sa.Text(), nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('late_cancel', 'no_show')", name=op.f("ck_session_fee_kind")),
        sa.CheckConstraint(
            "status IN ('owed', 'waived', 'voided')", name=op.f("ck_session_fee_status")
        ),
        sa.CheckConstraint("amount_cents >= 0", name=op.f("ck_session_fee_amount")),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_session_fee_appointment_id_appointment"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_session_fee_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["appointment_event.id"],
            name=op.f("fk_session_fee_event_id_appointment_event"),
        ),
        sa.ForeignKeyConstraint(
            ["charged_by_id"], ["app_user.id"], name=op.f("fk_session_fee_charged_by_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["waived_by_id"], ["app_user.id"], name=op.f("fk_session_fee_waived_by_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_fee")),
    )
    op.create_index(op.f("ix_session_fee_appointment_id"), "session_fee", ["appointment_id"])
    op.create_index(op.f("ix_session_fee_patient_id"), "session_fee", ["patient_id"])
    op.create_index("ix_session_fee_list", "session_fee", ["status", "charged_at"])
    op.create_table(
        "series_rebooking",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("make_up_appointment_id", sa.Integer(), nullable=True),
        sa.Column("waitlist_entry_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "decision IN ('made_up', 'waitlisted', 'continue_short')",
            name=op.f("ck_series_rebooking_decision"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_series_rebooking_appointment_id_appointment"),
        ),
        sa.ForeignKeyConstraint(
            ["series_id"], ["series.id"], name=op.f("fk_series_rebooking_series_id_series")
        ),
        sa.ForeignKeyConstraint(
            ["make_up_appointment_id"],
            ["appointment.id"],
            name=op.f("fk_series_rebooking_make_up_appointment_id_appointment"),
        ),
        sa.ForeignKeyConstraint(
            ["waitlist_entry_id"],
            ["waitlist_entry.id"],
            name=op.f("fk_series_rebooking_waitlist_entry_id_waitlist_entry"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["app_user.id"],
            name=op.f("fk_series_rebooking_decided_by_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_series_rebooking")),
        sa.UniqueConstraint("appointment_id", name=op.f("uq_series_rebooking_appointment_id")),
    )
    op.create_index(op.f("ix_series_rebooking_series_id"), "series_rebooking", ["series_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_series_rebooking_series_id"), table_name="series_rebooking")
    op.drop_table("series_rebooking")
    op.drop_index("ix_session_fee_list", table_name="session_fee")
    op.drop_index(op.f("ix_session_fee_patient_id"), table_name="session_fee")
    op.drop_index(op.f("ix_session_fee_appointment_id"), table_name="session_fee")
    op.drop_table("session_fee")
