"""patients: the duplicate check's keys and merged charts

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 03:10:00

``phone_key`` holds a patient's phone as its digits and ``email_key`` the e-mail in lower case
(both indexed), so finding a chart with the same phone or e-mail is an index lookup;
``date_of_birth`` gets an index for the name-and-birthday check. ``merged_into_id`` marks a
chart merged into another (it stays, inactive, so the audit trail's references to it still lead
somewhere).
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_patient_merge"
down_revision: str | None = "0006_tentative_holds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _phone_key(text: str) -> str:
    # The same rule as ketadesk/store/patient_keys.py at the time of this migration.
    digits = re.sub(r"\D", "", text or "")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column(
        "patient", sa.Column("phone_key", sa.String(length=40), server_default="", nullable=False)
    )
    op.add_column(
        "patient", sa.Column("email_key", sa.String(length=120), server_default="", nullable=False)
    )
    if bind.dialect.name == "sqlite":
        # SQLite adds a column with a reference in place; batch mode would copy the table,
        # which every chart's appointments refer to.
        op.execute(
            "ALTER TABLE patient ADD COLUMN merged_into_id INTEGER "
            "CONSTRAINT fk_patient_merged_into_id_patient REFERENCES patient (id)"
        )
    else:
        op.add_column("patient", sa.Column("merged_into_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_patient_merged_into_id_patient"),
            "patient",
            "patient",
            ["merged_into_id"],
            ["id"],
        )
    patient = sa.table(
        "patient",
        sa.column("id", sa.Integer),
        sa.column("phone", sa.String),
        sa.column("email", sa.String),
    )
    rows = bind.execute(
        sa.select(patient.c.id, patient.c.phone, patient.c.email).where(
            sa.or_(patient.c.phone != "", patient.c.email != "")
        )
    )
    keys = [
        {"pid": pid, "phone": _phone_key(phone), "email": (email or "").strip().lower()}
        for pid, phone, email in rows
    ]
    if keys:
        bind.execute(
            sa.text("UPDATE patient SET phone_key = :phone, email_key = :email WHERE id = :pid"),
            keys,
        )
    op.create_index("ix_patient_date_of_birth", "patient", ["date_of_birth"], unique=False)
    op.create_index("ix_patient_phone_key", "patient", ["phone_key"], unique=False)
    op.create_index("ix_patient_email_key", "patient", ["email_key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_patient_email_key", table_name="patient")
    op.drop_index("ix_patient_phone_key", table_name="patient")
    op.drop_index("ix_patient_date_of_birth", table_name="patient")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_drop_columns()
        return
    with op.batch_alter_table("patient") as batch:
        batch.drop_column("merged_into_id")
        batch.drop_column("email_key")
        batch.drop_column("phone_key")


#: The reference SQLite keeps in the table's text for the column the upgrade added in place.
_SQLITE_REFERENCE = " CONSTRAINT fk_patient_merged_into_id_patient REFERENCES patient (id)"


def _sqlite_drop_columns() -> None:
    """Drop the three columns in place: batch mode would copy and drop ``patient``, which
    every appointment refers to (with foreign keys on, the DROP is refused).  SQLite cannot
    drop a column named in a reference, so the reference leaves the table's text first."""
    conn = op.get_bind()
    stored = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'patient'"
    ).scalar_one()
    if stored.count(_SQLITE_REFERENCE) != 1:
        raise RuntimeError("patient's merged_into_id is not the column this migration added")
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar_one()
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    conn.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'patient'",
        (stored.replace(_SQLITE_REFERENCE, ""),),
    )
    conn.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    conn.exec_driver_sql("PRAGMA writable_schema = OFF")
    for column in ("merged_into_id", "email_key", "phone_key"):
        conn.exec_driver_sql(f"ALTER TABLE patient DROP COLUMN {column}")
