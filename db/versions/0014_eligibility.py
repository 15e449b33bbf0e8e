"""eligibility: the contraindications and precautions recorded per patient, and when a prior
authorization starts

Revision ID: 0014_eligibility
Revises: 0013_chair_checks
Create Date: 2026-12-05 16:20:00

``patient.eligibility_flags`` lists the codes of clinic.toml ``[eligibility]``
contraindications and precautions checked in the patient form (NULL: none recorded; the free
text ``contraindications`` column stays, for other flags).  ``patient.prior_auth_starts_on`` is
the first day the prior authorization covers.

Plain ADD COLUMNs, also on SQLite (batch mode would copy and drop tables others refer to).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_eligibility"
down_revision: str | None = "0013_chair_checks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_COLUMNS = {
    "patient": (
        sa.Column("eligibility_flags", _JSON, nullable=True),
        sa.Column("prior_auth_starts_on", sa.Date(), nullable=True),
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
