"""which session types a room or piece of equipment serves

Revision ID: 0005_rooms_equipment
Revises: 0002
Create Date: 2026-12-05 03:15:00

``resource.serves`` lists the session type codes a resource may be booked for; the empty list
(every existing row) keeps today's rule: any session type that asks for its kind and subkind.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_rooms_equipment"
down_revision: str | None = "0004_staff_shifts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # A plain ADD COLUMN, also on SQLite: batch mode would copy and drop ``resource``, which
    # every hold refers to (with foreign keys on, an existing clinic's upgrade is refused).
    op.add_column(
        "resource", sa.Column("serves", JSON, nullable=False, server_default=sa.text("'[]'"))
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place: batch mode would copy and drop the table, which other tables refer to.
        op.execute("ALTER TABLE resource DROP COLUMN serves")
        return
    with op.batch_alter_table("resource") as batch:
        batch.drop_column("serves")
