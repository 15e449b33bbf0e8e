"""safety off to warn: a clinical safety rule stored "off" becomes "warn"

Revision ID: 0018_safety_off_to_warn
Revises: 0017_tentative_deadline_index
Create Date: 2026-12-06 20:00:00

Data only.  The clinical safety rules (``scheduling.catalog.SAFETY_RULES``: age,
contraindications, REMS enrolment and site certification, driver, the Spravato window cap, two
courses at once, the chair's pre-dose BP, dose and discharge rules, dosing after an urgent
review) may be "block" or "warn", never "off"; the loader refuses "off" and names the key.
Settings offered "off" before that, so a clinic may have stored it, and would then not open.
Each such rule becomes "warn" (``store/config_upgrade.lift_safety_off``): the step still goes
ahead once a permitted role gives a reason, which is kept, instead of without a word.  The
audit trail records each section before and after.  Because the loader refused the stored
configuration, migration 0015 could not add the shipped rule keys to such a clinic; they are
added now (``add_shipped_rules``, which never changes a value the clinic set).

The way back changes nothing: "warn" is valid for the older schema too.
"""

import datetime as dt
import logging
from collections.abc import Sequence

from alembic import op

from ketadesk.store.config_upgrade import add_shipped_rules, lift_safety_off

revision: str = "0018_safety_off_to_warn"
down_revision: str | None = "0017_tentative_deadline_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Not under "alembic", whose NullHandler would swallow the warning.
log = logging.getLogger("ketadesk.store.migrate")
REASON = "migration 0018_safety_off_to_warn"


def upgrade() -> None:
    conn = op.get_bind()
    now = dt.datetime.now(dt.UTC)
    lifted = lift_safety_off(conn, now=now, reason=REASON)
    if not lifted:
        return
    # A warning, so that `ketadesk db upgrade` says it (stderr): the clinic's rules changed.
    log.warning(
        '0018_safety_off_to_warn: clinical safety rules stored "off" are now "warn" (each is in '
        "the audit trail): %s",
        ", ".join(lifted),
    )
    done = add_shipped_rules(conn, now=now, reason=REASON)
    if done.added:
        log.warning(
            "0018_safety_off_to_warn: added %d shipped rule keys the clinic's configuration "
            "lacked (each is in the audit trail)",
            len(done.added),
        )


def downgrade() -> None:
    pass
