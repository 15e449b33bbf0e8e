"""tentative holds: an appointment may be pencilled in until a deadline, then released

Revision ID: 0006_tentative_holds
Revises: 0002
Create Date: 2026-12-05 03:10:00

Adds ``appointment.hold_until`` (a tentative appointment's deadline) and the statuses
"tentative" and "released" to the appointment's status check; a released appointment no longer
takes its place in a series (the partial unique index is rebuilt with it).

On SQLite the CHECK constraint is changed in place, not by Alembic's batch mode: batch mode
rebuilds the table (copy, DROP, rename), and with foreign keys on (KetaDesk's connections always
have them, and the pragma cannot be turned off inside the migration's transaction) the DROP
cascades into every appointment's holds and events.  SQLite documents editing the stored
``CREATE TABLE`` text for changes that do not touch the data on disk, such as a CHECK constraint
the existing rows already meet (https://www.sqlite.org/lang_altertable.html, "Making Other Kinds
Of Table Schema Changes"); the schema version is bumped so every connection reads it again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_tentative_holds"
down_revision: str | None = "0005_rooms_equipment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "'booked', 'checked_in', 'in_progress', 'completed', 'cancelled', 'no_show'"
NEW_STATUSES = (
    "'tentative', 'booked', 'checked_in', 'in_progress', 'completed', 'cancelled', 'no_show', "
    "'released'"
)
OLD_LIVE = "series_id IS NOT NULL AND status NOT IN ('cancelled', 'no_show')"
NEW_LIVE = "series_id IS NOT NULL AND status NOT IN ('cancelled', 'no_show', 'released')"


def _sqlite_check(old: str, new: str) -> None:
    conn = op.get_bind()
    stored = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'appointment'"
    ).scalar_one()
    before, after = f"status IN ({old})", f"status IN ({new})"
    if stored.count(before) != 1:
        raise RuntimeError("appointment's status check is not the one this migration knows")
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar_one()
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    conn.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'appointment'",
        (stored.replace(before, after),),
    )
    conn.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    conn.exec_driver_sql("PRAGMA writable_schema = OFF")


def _swap(old: str, new: str, live: str) -> None:
    op.drop_index("uq_appointment_series_place", table_name="appointment")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_check(old, new)
    else:
        op.drop_constraint(op.f("ck_appointment_status"), "appointment", type_="check")
        op.create_check_constraint(
            op.f("ck_appointment_status"), "appointment", f"status IN ({new})"
        )
    op.create_index(
        "uq_appointment_series_place",
        "appointment",
        ["series_id", "series_index"],
        unique=True,
        sqlite_where=sa.text(live),
        postgresql_where=sa.text(live),
    )


def upgrade() -> None:
    # A plain ADD COLUMN (nullable, no default): SQLite does it in place, no rebuild.
    op.add_column("appointment", sa.Column("hold_until", sa.DateTime(timezone=True), nullable=True))
    _swap(OLD_STATUSES, NEW_STATUSES, NEW_LIVE)


def downgrade() -> None:
    op.execute("UPDATE appointment SET status = 'cancelled' WHERE status = 'released'")
    op.execute("UPDATE appointment SET status = 'booked' WHERE status = 'tentative'")
    _swap(NEW_STATUSES, OLD_STATUSES, OLD_LIVE)
    op.drop_column("appointment", "hold_until")
