"""scales for every clinic: shipped timed scales on an older clinic's session types, and a
scale reading corrected with a reason

Revision ID: 0026_scales2
Revises: 0025_late
Create Date: 2026-12-08 01:00:00

Data: a clinic created before the timed scales keeps its session types in its database
without ``scales``, so its IV infusions and Spravato sessions owed no MOAA/S or CADSS reading.
Each shipped session type the clinic has gets the shipped ``scales`` (and ``[scales]`` its
shipped thresholds) when it has none of its own (``store/config_upgrade.add_shipped_scales``):
a type whose ``scales`` the clinic set, even to none, is left alone and said so; a type the
clinic made itself is not touched.  The audit trail records each change before and after
(``add_shipped_scales``).  This happens once: a type left without scales afterwards is the
clinic's choice, and neither ``ketadesk check`` nor Settings asks to add them again.

Schema: a mistaken reading is corrected by a new row that names the one it corrects
(``corrects_id``, one correction per reading: a unique index), with the reason, who corrected
it and when; the row corrected stays as it was.  Plain ADD COLUMNs (nullable) and an index, so
SQLite rebuilds nothing.  The way back keeps the corrected value: the rows a correction
replaced are deleted (the audit trail keeps each correction's value before and after) and the
columns dropped; the shipped scales stay, valid for the older schema too.
"""

import datetime as dt
import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ketadesk.store.config_upgrade import add_shipped_scales

revision: str = "0026_scales2"
down_revision: str | None = "0025_late"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Not under "alembic", whose NullHandler would swallow the warning.
log = logging.getLogger("ketadesk.store.migrate")
REASON = f"migration {revision}"

#: Foreign-key columns: (column, the table and column it references, the constraint's name).
_KEYS = (
    ("corrects_id", "scale_reading", "fk_scale_reading_corrects_id_scale_reading"),
    ("corrected_by_id", "app_user", "fk_scale_reading_corrected_by_id_app_user"),
)
_INDEX = "uq_scale_reading_corrects_id"


def _add_key_column(column: str, target: str, name: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Alembic refuses a foreign key on SQLite outside batch mode; SQLite itself takes a
        # REFERENCES clause on ADD COLUMN (the column is NULL on every existing row).
        op.execute(
            f"ALTER TABLE scale_reading ADD COLUMN {column} INTEGER "
            f"CONSTRAINT {name} REFERENCES {target} (id)"
        )
    else:
        op.add_column("scale_reading", sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(name, "scale_reading", target, [column], ["id"])


def upgrade() -> None:
    _add_key_column(*_KEYS[0])
    op.add_column("scale_reading", sa.Column("correction_reason", sa.Text(), nullable=True))
    _add_key_column(*_KEYS[1])
    op.add_column(
        "scale_reading", sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(_INDEX, "scale_reading", ["corrects_id"], unique=True)

    done = add_shipped_scales(
        op.get_bind(), now=dt.datetime.now(dt.UTC), reason=REASON, record_left_alone=True
    )
    for added in done.added:
        log.info("%s: added %s", revision, added)
    # Warnings, so that `ketadesk db upgrade` says them (stderr): the clinic's session types
    # changed, and what was left alone is worth an administrator's look.
    if done.added:
        log.warning(
            "%s: the shipped sedation and dissociation scales were added to %d session types "
            "and settings the clinic's configuration lacked (each is in the audit trail)",
            revision,
            len(done.added),
        )
    for left in done.left_alone:
        log.warning("%s: left alone: %s", revision, left)


def downgrade() -> None:
    # The older schema cannot say a reading was corrected: only the corrected value stays (a
    # correction corrected again: its last).  The references go first, then the rows replaced.
    conn = op.get_bind()
    replaced = [
        row[0]
        for row in conn.execute(
            sa.text("SELECT corrects_id FROM scale_reading WHERE corrects_id IS NOT NULL")
        )
    ]
    op.execute("UPDATE scale_reading SET corrects_id = NULL")
    if replaced:
        conn.execute(
            sa.text("DELETE FROM scale_reading WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": replaced},
        )
    op.drop_index(_INDEX, table_name="scale_reading")
    sqlite = conn.dialect.name == "sqlite"
    for name in ("corrected_at", "corrected_by_id", "correction_reason", "corrects_id"):
        if sqlite:
            op.execute(f"ALTER TABLE scale_reading DROP COLUMN {name}")
        else:
            op.drop_column("scale_reading", name)
