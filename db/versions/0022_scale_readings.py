"""scale readings: timed sedation (MOAA/S) and dissociation (CADSS) readings of a session

Revision ID: 0022_scale_readings
Revises: 0021_series_end
Create Date: 2026-12-07 21:10:00

``scale_reading`` holds one row per reading: the appointment, the scale ("moaas" or "cadss"),
when it was taken, the score, who recorded it and when.  Before it a session kept one word each
for sedation and dissociation on its monitoring record, with no time (a clinical trial found
no timed scale readings).  The record's words and resolved marks stay: a session type without
a scale configured still uses them.

A new table only, so SQLite needs no batch mode: no existing table is copied or rebuilt.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_scale_readings"
down_revision: str | None = "0021_series_end"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scale_reading",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("scale", sa.String(length=16), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("scale IN ('moaas', 'cadss')", name=op.f("ck_scale_reading_scale")),
        sa.CheckConstraint("score >= 0", name=op.f("ck_scale_reading_score")),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_scale_reading_appointment_id_appointment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["app_user.id"],
            name=op.f("fk_scale_reading_recorded_by_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scale_reading")),
    )
    op.create_index(op.f("ix_scale_reading_appointment_id"), "scale_reading", ["appointment_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_scale_reading_appointment_id"), table_name="scale_reading")
    op.drop_table("scale_reading")
