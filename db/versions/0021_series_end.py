"""series end: a prescriber ends a series, with a reason and the day it ends

Revision ID: 0021_series_end
Revises: 0020_patient_away
Create Date: 2026-12-07 18:20:00

Adds the status "ended" to the series' status check and what the ending was: the first day
no longer in the series (``ended_on``, a local date), the reason's code (``end_reason``:
response achieved, side effects / safety, patient's choice, no response, other) with the
prescriber's words (``end_note``), who ended it (``ended_by_id``) and when (``ended_at``).
Before it a stopped series kept status "active", its later sessions stayed booked, and the
dropout rules read its cancellations as the patient's misses.

The columns are plain ADD COLUMNs (nullable), so SQLite rebuilds nothing.  The status check
is changed on SQLite by editing the stored ``CREATE TABLE`` text, as 0006 did for the
appointment's (batch mode's table copy would cascade with foreign keys on); every existing row
already meets the new check.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_series_end"
down_revision: str | None = "0020_patient_away"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "'planned', 'active', 'completed', 'dropped', 'cancelled'"
NEW_STATUSES = "'planned', 'active', 'completed', 'dropped', 'cancelled', 'ended'"


def _sqlite_check(old: str, new: str) -> None:
    conn = op.get_bind()
    stored = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'series'"
    ).scalar_one()
    before, after = f"status IN ({old})", f"status IN ({new})"
    if stored.count(before) != 1:
        raise RuntimeError("series' status check is not the one this migration knows")
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar_one()
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    conn.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'series'",
        (stored.replace(before, after),),
    )
    conn.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    conn.exec_driver_sql("PRAGMA writable_schema = OFF")


def _swap(old: str, new: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_check(old, new)
    else:
        op.drop_constraint(op.f("ck_series_status"), "series", type_="check")
        op.create_check_constraint(op.f("ck_series_status"), "series", f"status IN ({new})")


COLUMNS = ("ended_on", "end_reason", "end_note", "ended_by_id", "ended_at")


def upgrade() -> None:
    op.add_column("series", sa.Column("ended_on", sa.Date(), nullable=True))
    op.add_column("series", sa.Column("end_reason", sa.String(length=32), nullable=True))
    op.add_column("series", sa.Column("end_note", sa.Text(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        # Alembic refuses a foreign key on SQLite outside batch mode; SQLite itself takes a
        # REFERENCES clause on ADD COLUMN (the column is NULL on every existing row).
        op.execute(
            "ALTER TABLE series ADD COLUMN ended_by_id INTEGER "
            "CONSTRAINT fk_series_ended_by_id_app_user REFERENCES app_user (id)"
        )
    else:
        op.add_column("series", sa.Column("ended_by_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_series_ended_by_id_app_user"), "series", "app_user", ["ended_by_id"], ["id"]
        )
    op.add_column("series", sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
    _swap(OLD_STATUSES, NEW_STATUSES)


def downgrade() -> None:
    # An ended series goes back as "cancelled", the nearest status the older schema knows.
    op.execute("UPDATE series SET status = 'cancelled' WHERE status = 'ended'")
    _swap(NEW_STATUSES, OLD_STATUSES)
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name in reversed(COLUMNS):
        if sqlite:
            op.execute(f"ALTER TABLE series DROP COLUMN {name}")
        else:
            op.drop_column("series", name)
