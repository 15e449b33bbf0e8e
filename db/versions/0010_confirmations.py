"""confirmations: the desk's calls to confirm a coming visit

Revision ID: 0010_confirmations
Revises: 0008_waitlist
Create Date: 2026-12-05 08:30:00

A new table only (``confirmation_call``), so SQLite needs no batch mode: no existing table is
copied or rebuilt.  The pre-visit checklist lives in ``appointment.checklist`` (already there).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_confirmations"
down_revision: str | None = "0009_reminders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "confirmation_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_confirmation_call_appointment_id_appointment"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_confirmation_call_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_confirmation_call")),
    )
    op.create_index(
        op.f("ix_confirmation_call_appointment_id"), "confirmation_call", ["appointment_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_confirmation_call_appointment_id"), table_name="confirmation_call")
    op.drop_table("confirmation_call")
