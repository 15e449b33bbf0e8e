"""in the chair: sedation, dissociation and breathing effects marked resolved before discharge

Revision ID: 0013_chair_checks
Revises: 0012_safety_followups
Create Date: 2026-12-05 16:30:00

Discharge waits until the effects seen in the session are marked resolved (DOMAIN.md
"Discharge"): the monitoring record keeps one mark each for sedation, dissociation and
respiratory depression.  A prescriber's override of a chair rule is a ``gating_override`` row
(rule ``chair.<rule>``), so it needs no table of its own.

Plain ADD COLUMNs, also on SQLite (batch mode would copy and drop tables others refer to).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_chair_checks"
down_revision: str | None = "0012_safety_followups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    sa.Column("sedation_resolved", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("dissociation_resolved", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("respiratory_resolved", sa.Boolean(), nullable=False, server_default=sa.false()),
)


def upgrade() -> None:
    for column in _COLUMNS:
        op.add_column("session_record", column)


def downgrade() -> None:
    for column in reversed(_COLUMNS):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE session_record DROP COLUMN {column.name}")
        else:
            op.drop_column("session_record", column.name)
