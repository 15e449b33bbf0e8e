"""urgent reviews and REMS forms: what a REMS form was submitted with, and its extra fields

Revision ID: 0012_safety_followups
Revises: 0011_rebooking_fees
Create Date: 2026-12-05 12:40:00

A REMS form marked submitted keeps the day it was submitted and the REMS confirmation number
(``follow_up.submitted_on``, ``follow_up.confirmation_number``).  The monitoring record keeps
what current copies of the form also ask: concomitant medicines at the session, whether the
vital signs were acceptable, and when the patient was ready to leave.

Plain ADD COLUMNs, also on SQLite (batch mode would copy and drop tables others refer to).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012_safety_followups"
down_revision: str | None = "0011_rebooking_fees"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_COLUMNS = {
    "follow_up": (
        sa.Column("submitted_on", sa.Date(), nullable=True),
        sa.Column("confirmation_number", sa.String(length=40), nullable=False, server_default=""),
    ),
    "session_record": (
        sa.Column("concomitant_meds", _JSON, nullable=True),
        sa.Column("vitals_acceptable", sa.Boolean(), nullable=True),
        sa.Column("ready_to_leave_at", sa.DateTime(timezone=True), nullable=True),
    ),
}


def upgrade() -> None:
    for table, columns in _COLUMNS.items():
        for column in columns:
            op.add_column(table, column)


def downgrade() -> None:
    for table, columns in _COLUMNS.items():
        for column in reversed(columns):
            if op.get_bind().dialect.name == "sqlite":
                op.execute(f"ALTER TABLE {table} DROP COLUMN {column.name}")
            else:
                op.drop_column(table, column.name)
