"""tentative deadline index: the expired-tentative-hold sweep reads an index, not the table

Revision ID: 0017_tentative_deadline_index
Revises: 0016_patient_self_pay
Create Date: 2026-12-06 15:20:00

Every booking first releases the tentative holds whose deadline has passed
(``services/booking/expiry.py``: ``status = 'tentative' AND hold_until <= now``).  Without an
index that is a scan of every appointment the clinic ever had, inside the write lock; a partial
index over the (few) tentative appointments by deadline makes it a short index read.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_tentative_deadline_index"
down_revision: str | None = "0016_patient_self_pay"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_appointment_tentative_deadline",
        "appointment",
        ["hold_until"],
        sqlite_where=sa.text("status = 'tentative'"),
        postgresql_where=sa.text("status = 'tentative'"),
    )


def downgrade() -> None:
    op.drop_index("ix_appointment_tentative_deadline", table_name="appointment")
