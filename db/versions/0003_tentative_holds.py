"""tentative holds: an appointment may be pencilled in until a deadline, then released

Revision ID: 0003_tentative_holds
Revises: 0002
Create Date: 2026-12-05 03:10:00

Adds ``appointment.hold_until`` (a tentative appointment's deadline) and the statuses
"tentative" and "released" to the appointment's status check; a released appointment no longer
takes its place in a series (the partial unique index is rebuilt with it).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_tentative_holds"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "'booked', 'checked_in', 'in_progress', 'completed', 'cancelled', 'no_show'"
NEW_STATUSES = (
    "'tentative', 'booked', 'checked_in', 'in_progress', 'completed', 'cancelled', 'no_show', "
    "'released'"
)
OLD_LIVE = "series_id IS NOT NULL AND status NOT IN ('cancelled', 'no_show')"
NEW_LIVE = "series_id IS NOT NULL AND status NOT IN ('cancelled', 'no_show', 'released')"


def _swap(statuses: str, live: str) -> None:
    op.drop_index("uq_appointment_series_place", table_name="appointment")
    with op.batch_alter_table("appointment") as batch:
        batch.drop_constraint(op.f("ck_appointment_status"), type_="check")
        batch.create_check_constraint("status", sa.text(f"status IN ({statuses})"))
    op.create_index(
        "uq_appointment_series_place",
        "appointment",
        ["series_id", "series_index"],
        unique=True,
        sqlite_where=sa.text(live),
        postgresql_where=sa.text(live),
    )


def upgrade() -> None:
    with op.batch_alter_table("appointment") as batch:
        batch.add_column(sa.Column("hold_until", sa.DateTime(timezone=True), nullable=True))
    _swap(NEW_STATUSES, NEW_LIVE)


def downgrade() -> None:
    op.execute("UPDATE appointment SET status = 'cancelled' WHERE status = 'released'")
    op.execute("UPDATE appointment SET status = 'booked' WHERE status = 'tentative'")
    _swap(OLD_STATUSES, OLD_LIVE)
    with op.batch_alter_table("appointment") as batch:
        batch.drop_column("hold_until")
