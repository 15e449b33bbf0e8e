"""late entries: when a vital-signs reading was entered, and by whom

Revision ID: 0025_late
Revises: 0024_closures
Create Date: 2026-12-08 00:30:00

``vital_reading`` gains ``recorded_at`` (when the reading was entered: the save that brought
its values) and ``recorded_by_id`` (the user who entered it).  Before it a record kept only
when a reading was taken, so a blood pressure back-filled an hour later read exactly like one
entered on time (a user trial).  A reading saved before this migration keeps both NULL: its
entry time is not known, and it carries no late-entry mark.  (``scale_reading`` has kept its
``recorded_at`` since 0022.)

Plain ADD COLUMNs (nullable), so SQLite rebuilds nothing; the foreign key is a REFERENCES
clause on SQLite's ADD COLUMN, as 0021 did.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_late"
down_revision: str | None = "0024_closures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "vital_reading", sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True)
    )
    if op.get_bind().dialect.name == "sqlite":
        # Alembic refuses a foreign key on SQLite outside batch mode; SQLite itself takes a
        # REFERENCES clause on ADD COLUMN (the column is NULL on every existing row).
        op.execute(
            "ALTER TABLE vital_reading ADD COLUMN recorded_by_id INTEGER "
            "CONSTRAINT fk_vital_reading_recorded_by_id_app_user REFERENCES app_user (id)"
        )
    else:
        op.add_column("vital_reading", sa.Column("recorded_by_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_vital_reading_recorded_by_id_app_user"),
            "vital_reading",
            "app_user",
            ["recorded_by_id"],
            ["id"],
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE vital_reading DROP COLUMN recorded_by_id")
        op.execute("ALTER TABLE vital_reading DROP COLUMN recorded_at")
    else:
        op.drop_constraint(
            op.f("fk_vital_reading_recorded_by_id_app_user"), "vital_reading", type_="foreignkey"
        )
        op.drop_column("vital_reading", "recorded_by_id")
        op.drop_column("vital_reading", "recorded_at")
