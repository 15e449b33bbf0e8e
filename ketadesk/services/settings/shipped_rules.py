"""The shipped rules a clinic's stored configuration lacks, and adding them (administrators).

A clinic created before the rules engine stored its protocols and settings without the rule
keys; ``store/config_upgrade.py`` finds them and adds them (migration 0015 does at upgrade).
This is the same on demand, for ``ketadesk config add-shipped-rules`` and Settings ▸ Clinic
rules (after restoring an old backup, say): checked as a ``configure`` write, audited, counted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import Actor, Database, utcnow
from ketadesk.store import changes
from ketadesk.store.config_upgrade import RulesUpgrade, add_shipped_rules, missing_shipped_rules


def missing_rules(db: Database) -> RulesUpgrade:
    """What adding the shipped rules would add now (reads only)."""
    with db.read() as session:
        return missing_shipped_rules(session.connection())


def add_missing_rules(
    db: Database, actor: Actor, *, dry_run: bool = False, now: dt.datetime | None = None
) -> RulesUpgrade:
    """Add the shipped rule keys the stored configuration lacks; ``dry_run`` writes nothing."""
    if dry_run:
        return missing_rules(db)
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    with db.write() as session:
        done = add_shipped_rules(
            session.connection(),
            now=now,
            user_id=actor.user_id,
            username=actor.username,
            reason="added on demand",
        )
        if done.added:
            changes.bump(session, now=now)
    return done


@dataclass(frozen=True)
class MissingRules:
    """The shipped rule keys missing, for Settings: each as "place: key"."""

    keys: tuple[str, ...]


def read_missing_rules(db: Database) -> MissingRules:
    """What Settings ▸ Clinic rules' note names."""
    return MissingRules(tuple(f"{a.where}: {a.key}" for a in missing_rules(db).added))


def add_missing_rules_now(db: Database, actor: Actor, *, now: dt.datetime | None = None) -> int:
    """Settings' "Add the shipped rules": how many keys were added."""
    return len(add_missing_rules(db, actor, now=now).added)
