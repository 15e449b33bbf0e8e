"""protocol rules upgrade: a clinic created before the rules engine gets the shipped rule keys

Revision ID: 0015_protocol_rules_upgrade
Revises: 0014_eligibility
Create Date: 2026-12-06 03:00:00

Data only.  A clinic's configuration is copied into its database when it is created, so a
clinic made before the rules engine has protocols, session types and settings without the rule
keys (a stage's ``window_cap``, ``window_days``, ...; ``[protocol_rules]``, ``[chair]``, ...)
and those rules silently do not apply to it.  Each shipped protocol, session type and rule
section gets the shipped keys it lacks (``store/config_upgrade.py``): a value the clinic set is
never changed, a protocol or stage the clinic made itself is left alone, and the audit trail
records each change and what was left alone.  ``ketadesk config add-shipped-rules --dry-run``
shows the same on demand.

The way back changes nothing: the added keys are the shipped rules, valid for the older
schema too.
"""

import datetime as dt
import logging
from collections.abc import Sequence

from alembic import op

from ketadesk.store.config_upgrade import add_shipped_rules

revision: str = "0015_protocol_rules_upgrade"
down_revision: str | None = "0014_eligibility"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Not under "alembic", whose NullHandler would swallow the warning.
log = logging.getLogger("ketadesk.store.migrate")


def upgrade() -> None:
    done = add_shipped_rules(
        op.get_bind(),
        now=dt.datetime.now(dt.UTC),
        reason="migration 0015_protocol_rules_upgrade",
        record_left_alone=True,
    )
    for added in done.added:
        log.info("0015_protocol_rules_upgrade: added %s", added)
    # Warnings, so that `ketadesk db upgrade` says them (stderr) without any logging set up: the
    # clinic's rules changed, and what the upgrade left alone needs an administrator's look.
    if done.added:
        log.warning(
            "0015_protocol_rules_upgrade: added %d shipped rule keys the clinic's configuration "
            "lacked (each is in the audit trail)",
            len(done.added),
        )
    for left in done.left_alone:
        log.warning("0015_protocol_rules_upgrade: left alone: %s", left)


def downgrade() -> None:
    pass
