"""protocol change: a series may follow another, ended by a change of protocol

Revision ID: 0023_protocol
Revises: 0022_scale_readings
Create Date: 2026-12-08 00:10:00

Adds ``series.previous_series_id``: the series this one follows when a clinician changed the
patient's protocol (IV induction not working → Spravato; services/booking/protocol_change.py).
The old series is ended as any series is (0021: status "ended", reason "protocol_change", the
new protocol and why in its note); the new series names it, so the record shows the chain.
Before it a change was an end and a new booking with nothing between them.

A plain nullable ADD COLUMN, so SQLite rebuilds nothing (the foreign key is written inline, as
0021 did for ``ended_by_id``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_protocol"
down_revision: str | None = "0022_scale_readings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Alembic refuses a foreign key on SQLite outside batch mode; SQLite itself takes a
        # REFERENCES clause on ADD COLUMN (the column is NULL on every existing row).
        op.execute(
            "ALTER TABLE series ADD COLUMN previous_series_id INTEGER "
            "CONSTRAINT fk_series_previous_series_id_series REFERENCES series (id)"
        )
    else:
        op.add_column("series", sa.Column("previous_series_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_series_previous_series_id_series"),
            "series",
            "series",
            ["previous_series_id"],
            ["id"],
        )


def downgrade() -> None:
    # The link goes; both series stay as they are (the old one ended, with its reason).
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE series DROP COLUMN previous_series_id")
    else:
        op.drop_constraint(
            op.f("fk_series_previous_series_id_series"), "series", type_="foreignkey"
        )
        op.drop_column("series", "previous_series_id")
