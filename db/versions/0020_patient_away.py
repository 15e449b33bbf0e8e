"""patient away: the days a patient is away, on their record

Revision ID: 0020_patient_away
Revises: 0019_reference_revision
Create Date: 2026-12-07 11:40:00

``patient_away`` holds date ranges (first and last day, inclusive, local dates) with a short
reason ("travel", "work"), entered on the patient record; the planner, booking, moves and a
closure's re-plan respect them (``scheduling/days_away.py``).  Before it the only trace of a
patient's absence was a session cancelled with a reason.

A new table only, so SQLite needs no batch mode: no existing table is copied or rebuilt.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_patient_away"
down_revision: str | None = "0019_reference_revision"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patient_away",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("last_day >= first_day", name=op.f("ck_patient_away_range")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_patient_away_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["app_user.id"], name=op.f("fk_patient_away_created_by_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_away")),
    )
    op.create_index(op.f("ix_patient_away_patient_id"), "patient_away", ["patient_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_patient_away_patient_id"), table_name="patient_away")
    op.drop_table("patient_away")
