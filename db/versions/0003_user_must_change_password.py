"""a user can be asked to choose a new password at the next sign-in

Revision ID: 0003_user_must_change_password
Revises: 0002
Create Date: 2026-12-05 03:10:00

An administrator who resets a password hands the user a one-time password; the flag makes the
sign-in ask for a new one before the desk opens.  Existing accounts keep their passwords
(false).  One user per staff member: a unique index on ``staff_id`` (NULLs never clash, on
SQLite and PostgreSQL alike).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_user_must_change_password"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN, also on SQLite: batch mode may copy and drop ``app_user``, which the
    # audit trail refers to.
    op.add_column(
        "app_user",
        sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index(op.f("uq_app_user_staff_id"), "app_user", ["staff_id"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("uq_app_user_staff_id"), table_name="app_user")
    if op.get_bind().dialect.name == "sqlite":
        # In place: batch mode would copy and drop the table, which other tables refer to.
        op.execute("ALTER TABLE app_user DROP COLUMN must_change_password")
        return
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("must_change_password")
