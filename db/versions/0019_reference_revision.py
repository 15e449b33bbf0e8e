"""reference revision: one row that every change to what a booking checks against moves

Revision ID: 0019_reference_revision
Revises: 0018_safety_off_to_warn
Create Date: 2026-12-06 19:50:00

A booking checks its plan against slow-changing rows: the configuration (``clinic_setting``,
``session_type``, ``protocol``), the resources and their qualifications, staff shifts and
closures.  ``store/reference.py`` keeps them between bookings; until now on SQLite only, revalidated
with ``PRAGMA data_version``, which every other writer's commit moves (four workstations booking
reloaded them after every booking), and on PostgreSQL not at all (read afresh every time).

Here triggers on those seven tables move ``reference_revision`` (one row: a counter, and a random
token so that a restored older file whose counter happens to meet a cached one is still told
apart) in the same transaction as the change, whoever writes it.  A booking reads that one row
inside its own transaction and keeps its cached rows while it has not moved.

On PostgreSQL the trigger first takes an exclusive transaction-scoped advisory lock that every
booking holds shared for its whole transaction (``reference.REFERENCE_LOCK``): a change to these
rows waits for the bookings checking against them, and a booking that starts meanwhile waits
for the change to commit, so no booking is ever judged on rows about to change (closures and
shifts included, which until now nothing guarded), and bookings need not lock the resources'
rows.  The triggers are statement-level (TRUNCATE included) on PostgreSQL, row-level on SQLite
(the only kind it has; a SQLite write already holds the only write lock).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_reference_revision"
down_revision: str | None = "0018_safety_off_to_warn"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What store/reference.py reads (and caches) for a booking.
TABLES = (
    "clinic_setting",
    "session_type",
    "protocol",
    "resource",
    "staff_qualification",
    "staff_shift",
    "closure",
)
# The advisory lock's key (one bigint; 'KETAREF1'): outside the int4 range of the
# ``hashtext`` keys accounts.py uses, and a different key space from the two-int4 (resource,
# day) locks of plan_check.py.  Keep it equal to ``store/reference.REFERENCE_LOCK``.
LOCK_KEY = 0x4B45544152454631

_SQLITE_BUMP = "UPDATE reference_revision SET value = value + 1, token = random() WHERE id = 1"


def _sqlite_up() -> list[str]:
    return [
        f"CREATE TRIGGER {table}_moves_reference_{event.lower()} AFTER {event} ON {table} "
        f"BEGIN {_SQLITE_BUMP}; END"
        for table in TABLES
        for event in ("INSERT", "UPDATE", "DELETE")
    ]


def _sqlite_down() -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_moves_reference_{event.lower()}"
        for table in TABLES
        for event in ("INSERT", "UPDATE", "DELETE")
    ]


def _postgres_up() -> list[str]:
    return [
        f"""CREATE FUNCTION reference_revision_bump() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock({LOCK_KEY});
            UPDATE reference_revision
               SET value = value + 1,
                   token = floor(random() * 9007199254740991)::bigint
             WHERE id = 1;
            RETURN NULL;
        END $$""",
        *(
            f"CREATE TRIGGER {table}_moves_reference BEFORE INSERT OR UPDATE OR DELETE "
            f"OR TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION reference_revision_bump()"
            for table in TABLES
        ),
    ]


def _postgres_down() -> list[str]:
    return [
        *(f"DROP TRIGGER IF EXISTS {table}_moves_reference ON {table}" for table in TABLES),
        "DROP FUNCTION IF EXISTS reference_revision_bump()",
    ]


def upgrade() -> None:
    op.create_table(
        "reference_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_revision")),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.execute(
        "INSERT INTO reference_revision (id, value, token) VALUES (1, 1, "
        + ("floor(random() * 9007199254740991)::bigint)" if postgresql else "random())")
    )
    for statement in _postgres_up() if postgresql else _sqlite_up():
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _postgres_down() if postgresql else _sqlite_down():
        op.execute(statement)
    op.drop_table("reference_revision")
