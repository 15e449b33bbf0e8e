"""repeating closures: a closure that closes the same hours every day, or on chosen weekdays,
from its first day to its last, kept as one row

Revision ID: 0024_closures
Revises: 0023_protocol
Create Date: 2026-12-08 00:30:00

``closure.repeat_rule`` holds the repeat in RFC 5545 words ("" for none, ``FREQ=DAILY``,
``FREQ=WEEKLY;BYDAY=MO,FR``; a CHECK refuses anything else); a repeating closure's
``starts_at``/``ends_at`` run from its first day's hours to its last day's, so every query for
the closures meeting a window still finds it (scheduling/closure_repeats.py makes it the
stretches it closes).  Before it, Christmas week's afternoons took one closure a day.

A plain ADD COLUMN on both databases (with its CHECK in the column's own definition on SQLite),
so SQLite copies no table and the closure table keeps its ``reference_revision`` triggers
(0019), which move on any change to a closure's row, its repeat included.  The way back writes
each repeating closure as one closure per day it closes, in the clinic's time zone, before the
column goes: nothing it closed opens.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_closures"
down_revision: str | None = "0023_protocol"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = "repeat_rule = '' OR repeat_rule = 'FREQ=DAILY' OR repeat_rule LIKE 'FREQ=WEEKLY;BYDAY=__%'"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE closure ADD COLUMN repeat_rule VARCHAR(64) DEFAULT '' NOT NULL "
            f"CONSTRAINT ck_closure_repeat_rule CHECK ({CHECK})"
        )
        return
    op.add_column(
        "closure",
        sa.Column("repeat_rule", sa.String(length=64), server_default="", nullable=False),
    )
    op.create_check_constraint(op.f("ck_closure_repeat_rule"), "closure", CHECK)


def downgrade() -> None:
    _one_row_a_day()
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE closure DROP COLUMN repeat_rule")
        return
    op.drop_constraint(op.f("ck_closure_repeat_rule"), "closure", type_="check")
    op.drop_column("closure", "repeat_rule")


def _one_row_a_day() -> None:
    """Each repeating closure as the closures of its days, in the clinic's time zone."""
    import json
    from zoneinfo import ZoneInfo

    from ketadesk.scheduling.calendar import Interval
    from ketadesk.scheduling.closure_repeats import occurrences, parse_rule
    from ketadesk.store.models import UTCDateTime

    bind = op.get_bind()
    closure = sa.table(
        "closure",
        sa.column("id", sa.Integer()),
        sa.column("resource_id", sa.Integer()),
        sa.column("kind", sa.String()),
        sa.column("starts_at", UTCDateTime()),
        sa.column("ends_at", UTCDateTime()),
        sa.column("reason", sa.String()),
        sa.column("repeat_rule", sa.String()),
    )
    setting = sa.table("clinic_setting", sa.column("key", sa.String()), sa.column("value"))
    stored = bind.execute(sa.select(setting.c.value).where(setting.c.key == "clinic")).scalar()
    clinic = json.loads(stored) if isinstance(stored, str) else (stored or {})
    zone = ZoneInfo(str(clinic.get("timezone") or "UTC"))
    rows = bind.execute(sa.select(closure).where(closure.c.repeat_rule != "")).all()
    for row in rows:
        spans = occurrences(Interval(row.starts_at, row.ends_at), parse_rule(row.repeat_rule), zone)
        bind.execute(sa.delete(closure).where(closure.c.id == row.id))
        if spans:
            bind.execute(
                sa.insert(closure),
                [
                    {
                        "resource_id": row.resource_id,
                        "kind": row.kind,
                        "starts_at": span.start,
                        "ends_at": span.end,
                        "reason": row.reason,
                        "repeat_rule": "",
                    }
                    for span in spans
                ],
            )
