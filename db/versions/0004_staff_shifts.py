"""staff shifts every other week, and the phases each staff member may be booked for

Revision ID: 0004_staff_shifts
Revises: 0002
Create Date: 2026-12-05 03:10:00

A clinic's nurse who works "every other Friday" needs a shift that repeats every n weeks from
an anchor week (``every_n_weeks`` 1 = every week, the old meaning, so existing rows keep it).
``staff_qualification`` lists the (session type, phase) pairs a staff member may be booked for;
a staff member with no rows may be booked for every phase their role is asked for.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_staff_shifts"
down_revision: str | None = "0003_user_must_change_password"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_shift") as batch:
        batch.add_column(
            sa.Column("every_n_weeks", sa.Integer(), nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("anchor_date", sa.Date(), nullable=True))
        batch.create_check_constraint(op.f("ck_staff_shift_every_n_weeks"), "every_n_weeks >= 1")
    op.create_table(
        "staff_qualification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("session_type", sa.String(length=64), nullable=False),
        sa.Column("phase", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resource.id"],
            name=op.f("fk_staff_qualification_resource_id_resource"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_qualification")),
        sa.UniqueConstraint(
            "resource_id",
            "session_type",
            "phase",
            name=op.f("uq_staff_qualification_resource_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("staff_qualification")
    with op.batch_alter_table("staff_shift") as batch:
        batch.drop_constraint(op.f("ck_staff_shift_every_n_weeks"), type_="check")
        batch.drop_column("anchor_date")
        batch.drop_column("every_n_weeks")
