"""An existing clinic gets the shipped rules it did not have.

A clinic created before the rules engine stored its protocols, session types and settings
without the rule keys (a stage's ``window_cap``, ``min_gap_days``, ..., ``[protocol_rules]``,
``[chair]``, ...), so on that clinic those rules silently do not apply.  This module compares
the stored configuration with the shipped one (resources/config/) and adds the rule keys a
shipped protocol, session type or settings section lacks: never a value the clinic set, never
into a protocol or stage the clinic made itself (those are reported, left alone), and only
what the configuration loader accepts (an addition it refuses is reported with its message).

Used by migration 0015_protocol_rules_upgrade, ``ketadesk config add-shipped-rules``,
``ketadesk check`` and Settings ▸ Clinic rules.  It works on a Connection with tables of its
own (the columns it touches), so the migration keeps working when later models change.

The timed sedation and dissociation scales (a session type's ``scales``, ``[scales]``) are
added the same way but once, by the scales migration (``add_shipped_scales``, its own audit
action): after it a session type without ``scales`` is the clinic's choice (no scales timed),
so they are not among the shipped rules that ``ketadesk check`` and Settings ask to add.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ketadesk.config import RawConfig, build_catalog
from ketadesk.config import read_raw_config as read_shipped_config
from ketadesk.scheduling.catalog import SAFETY_RULES, ConfigError
from ketadesk.store.models import JSONType, UTCDateTime

#: The settings sections whose keys are rules (docs/RULES.md).  A missing key is added; a
#: nested table (``[eligibility.precautions]``) is added whole only when it is missing, since
#: its entries are the clinic's list.
RULE_SECTIONS = (
    "gating",
    "eligibility",
    "protocol_rules",
    "rems",
    "rems_form",
    "chair",
    "monitoring",
    "urgent_review",
    "dropout",
    "followups",
)
#: A protocol's own rule keys, and each stage's (protocols.toml).
PROTOCOL_RULE_KEYS = ("starting_dose_mg", "series_gap")
STAGE_RULE_KEYS = (
    "min_gap_days",
    "max_gap_days",
    "window_days",
    "window_cap",
    "followed_by",
    "on_complete",
)
#: A session type's rule keys (session_types.toml): the chair's dose and observation rules.
SESSION_TYPE_RULE_KEYS = (
    "dose",
    "bp_checks",
    "observation_from",
    "observation_minutes",
    "reading_cadence",
)

#: The command that adds them, named by ``ketadesk check`` and Settings.
COMMAND = "ketadesk config add-shipped-rules"


@dataclass(frozen=True)
class ShippedKeys:
    """Which shipped keys an upgrade compares: rule sections of the settings, a protocol's and
    a stage's keys, a session type's; ``words`` name them in the audit trail.  ``report_kept``:
    a key a shipped session type already has with a value of the clinic's own is reported left
    alone (the scales: the clinic's choice kept, and said)."""

    sections: tuple[str, ...]
    protocol: tuple[str, ...]
    stage: tuple[str, ...]
    session_type: tuple[str, ...]
    words: str = "shipped rules"
    report_kept: bool = False


#: The shipped rules (migrations 0015 and 0018, the command, ``ketadesk check``, Settings).
SHIPPED_RULES = ShippedKeys(
    RULE_SECTIONS, PROTOCOL_RULE_KEYS, STAGE_RULE_KEYS, SESSION_TYPE_RULE_KEYS
)
#: The timed scales, added once by the scales migration (``add_shipped_scales``).
SHIPPED_SCALES = ShippedKeys(
    sections=("scales",),
    protocol=(),
    stage=(),
    session_type=("scales",),
    words="shipped scales",
    report_kept=True,
)

_settings = sa.table(
    "clinic_setting",
    sa.column("key", sa.String),
    sa.column("value", JSONType),
    sa.column("updated_at", UTCDateTime),
)
_types = sa.table(
    "session_type",
    sa.column("id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("definition", JSONType),
    sa.column("sort_order", sa.Integer),
)
_protocols = sa.table(
    "protocol",
    sa.column("id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("definition", JSONType),
    sa.column("sort_order", sa.Integer),
)
_audit = sa.table(
    "audit_event",
    sa.column("at", UTCDateTime),
    sa.column("user_id", sa.Integer),
    sa.column("username", sa.String),
    sa.column("action", sa.String),
    sa.column("entity", sa.String),
    sa.column("entity_id", sa.Integer),
    sa.column("patient_id", sa.Integer),
    sa.column("before", JSONType),
    sa.column("after", JSONType),
    sa.column("detail", sa.Text),
)

#: The audit action of every addition.
AUDIT_ACTION = "add_shipped_rules"
#: The audit action of the scales' one addition (``add_shipped_scales``).
SCALES_ACTION = "add_shipped_scales"


@dataclass(frozen=True)
class Addition:
    """One shipped rule key a stored entity lacks.

    ``kind`` is "setting", "session_type" or "protocol"; ``code`` the section or entity code;
    ``path`` where the key goes inside its stored value (``("stages", 0)`` for a stage);
    ``where`` the place in words.
    """

    kind: str
    code: str
    path: tuple[str | int, ...]
    key: str
    value: Any
    where: str

    @property
    def value_text(self) -> str:
        return toml_value(self.value)

    def __str__(self) -> str:
        return f"{self.where}: {self.key} = {self.value_text}"


@dataclass(frozen=True)
class LeftAlone:
    """A stored entity, or one addition, the upgrade does not touch, and why."""

    where: str
    reason: str
    #: A shipped key the loader refused to add (rather than the clinic's own protocol or stage).
    refused: bool = False

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True)
class RulesUpgrade:
    """What adding the shipped rules adds (``added``), and what it leaves alone."""

    added: tuple[Addition, ...]
    left_alone: tuple[LeftAlone, ...]
    written: bool = False

    def lines(self) -> list[str]:
        verb = "added" if self.written else "would add"
        out = [f"{verb} {a}" for a in self.added]
        out += [f"left alone: {s}" for s in self.left_alone]
        if not self.added and any(s.refused for s in self.left_alone):
            out.append("nothing to add that the configuration accepts")
        elif not self.added:
            out.append("the stored configuration has every shipped rule key; nothing to add")
        return out


def toml_value(value: Any) -> str:
    """A value as it reads in the configuration files."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


# -- comparing ------------------------------------------------------------------------------


def read_stored_config(conn: Connection) -> RawConfig:
    """The stored configuration, as ``clinic_config.read_raw_config`` reads it."""
    clinic = dict(
        conn.execute(sa.select(_settings.c.key, _settings.c.value).order_by(_settings.c.key)).all()
    )
    types = dict(
        conn.execute(
            sa.select(_types.c.code, _types.c.definition).order_by(_types.c.sort_order)
        ).all()
    )
    protocols = dict(
        conn.execute(
            sa.select(_protocols.c.code, _protocols.c.definition).order_by(_protocols.c.sort_order)
        ).all()
    )
    return RawConfig(clinic, {"session_types": types}, {"protocols": protocols})


def _candidates(
    stored: RawConfig, shipped: RawConfig, keys: ShippedKeys = SHIPPED_RULES
) -> Iterator[Addition | LeftAlone]:
    if not stored.clinic:
        # Not configured yet (a new clinic's schema is made before its configuration is
        # installed): nothing to upgrade.
        return
    # The protocols first: their keys (the doses-per-window cap) are the ones most missed.
    shipped_protocols = shipped.protocols.get("protocols", {})
    compared = keys.protocol or keys.stage
    for code, theirs in (stored.protocols.get("protocols", {}) if compared else {}).items():
        ours = shipped_protocols.get(code)
        where = f"protocol {code}"
        if not isinstance(ours, Mapping):
            yield LeftAlone(where, "the clinic's own protocol, not changed (check its rules)")
            continue
        if not isinstance(theirs, Mapping):
            continue
        for key in keys.protocol:
            if key in ours and key not in theirs:
                yield Addition("protocol", code, (), key, ours[key], where)
        yield from _stage_candidates(
            code, theirs.get("stages"), ours.get("stages") or [], keys.stage
        )
    stored_types = stored.session_types.get("session_types", {})
    for code, ours in shipped.session_types.get("session_types", {}).items():
        theirs = stored_types.get(code)
        if not isinstance(theirs, Mapping):
            continue
        for key in keys.session_type:
            where = f"session type {code}"
            if key in ours and key not in theirs:
                yield Addition("session_type", code, (), key, ours[key], where)
            elif key in ours and keys.report_kept and theirs[key] != ours[key]:
                kept = f"{key} = {toml_value(theirs[key])}"
                yield LeftAlone(where, f"its own {key} kept ({kept})")
    for section in keys.sections:
        theirs = stored.clinic.get(section)
        ours = shipped.clinic.get(section)
        if not isinstance(ours, Mapping) or (
            theirs is not None and not isinstance(theirs, Mapping)
        ):
            continue
        for key, value in ours.items():
            if theirs is None or key not in theirs:
                yield Addition("setting", section, (), key, value, f"[{section}]")


def _stage_candidates(
    code: str, theirs: Any, ours: list[Any], keys: tuple[str, ...] = STAGE_RULE_KEYS
) -> Iterator[Addition | LeftAlone]:
    if not isinstance(theirs, list):
        return
    for i, stage in enumerate(theirs):
        if not isinstance(stage, Mapping):
            continue
        name = stage.get("name", "")
        where = (
            f'protocol {code}, stage {i + 1} "{name}"'
            if name
            else f"protocol {code}, stage {i + 1}"
        )
        shipped = ours[i] if i < len(ours) else None
        if shipped is None or shipped.get("session_type") != stage.get("session_type"):
            yield LeftAlone(
                where, "the clinic's own stage (not the shipped one at its place), not changed"
            )
            continue
        for key in keys:
            if key in shipped and key not in stage:
                yield Addition("protocol", code, ("stages", i), key, shipped[key], where)


def _with(raw: RawConfig, additions: list[Addition]) -> RawConfig:
    new = RawConfig(
        copy.deepcopy(raw.clinic), copy.deepcopy(raw.session_types), copy.deepcopy(raw.protocols)
    )
    for a in additions:
        node: Any
        if a.kind == "setting":
            node = new.clinic.setdefault(a.code, {})
        elif a.kind == "session_type":
            node = new.session_types["session_types"][a.code]
        else:
            node = new.protocols["protocols"][a.code]
        for step in a.path:
            node = node[step]
        node[a.key] = copy.deepcopy(a.value)
    return new


def _loads(raw: RawConfig) -> str | None:
    """The loader's message when ``raw`` does not load, else None."""
    try:
        build_catalog(raw, origin="database")
    except ConfigError as err:
        return str(err)
    return None


def plan_upgrade(
    stored: RawConfig, shipped: RawConfig, keys: ShippedKeys = SHIPPED_RULES
) -> tuple[RulesUpgrade, RawConfig]:
    """What adding ``shipped``'s rule keys (``keys``) to ``stored`` adds, and the configuration
    after.

    Every addition must leave a configuration the loader accepts: all of them at once when
    they do (the usual case, one check), else one by one, each refused one reported.
    """
    wanted: list[Addition] = []
    left: list[LeftAlone] = []
    for item in _candidates(stored, shipped, keys):
        if isinstance(item, Addition):
            wanted.append(item)
        else:
            left.append(item)
    if not wanted:
        return RulesUpgrade((), tuple(left)), stored
    new = _with(stored, wanted)
    if _loads(new) is None:
        return RulesUpgrade(tuple(wanted), tuple(left)), new
    broken = _loads(stored)
    if broken is not None:
        # Nothing to judge an addition against: the clinic's configuration must be mended first.
        why = f"does not load, so nothing was added: {broken}"
        broken_note = LeftAlone("the stored configuration", why, refused=True)
        return RulesUpgrade((), (*left, broken_note)), stored
    kept: list[Addition] = []
    for a in wanted:
        problem = _loads(_with(stored, [*kept, a]))
        if problem is None:
            kept.append(a)
        else:
            left.append(
                LeftAlone(
                    f"{a.where}: {a.key}",
                    f"not added, the loader refuses it: {problem}",
                    refused=True,
                )
            )
    return RulesUpgrade(tuple(kept), tuple(left)), _with(stored, kept)


def missing_shipped_rules(conn: Connection, shipped: RawConfig | None = None) -> RulesUpgrade:
    """What ``add_shipped_rules`` would add now (reads only)."""
    plan, _ = plan_upgrade(read_stored_config(conn), shipped or read_shipped_config())
    return plan


# -- writing --------------------------------------------------------------------------------


def add_shipped_rules(
    conn: Connection,
    *,
    now: dt.datetime,
    user_id: int | None = None,
    username: str = "",
    reason: str = "",
    shipped: RawConfig | None = None,
    record_left_alone: bool = False,
    keys: ShippedKeys = SHIPPED_RULES,
    action: str = AUDIT_ACTION,
) -> RulesUpgrade:
    """Add the shipped rule keys (``keys``) the stored configuration lacks, in ``conn``'s
    transaction, audited as ``action``.

    One audit event per changed section, session type and protocol (before and after, and
    what was added in words), and one naming what was left alone (a clinic-made protocol, an
    addition the loader refused) when anything was added or ``record_left_alone`` asks (the
    migration: its one report that lasts).  The caller bumps the change counter if it keeps one.
    """
    stored = read_stored_config(conn)
    plan, new = plan_upgrade(stored, shipped or read_shipped_config(), keys)
    why = f" ({reason})" if reason else ""

    def audit(kind: str, entity_id: int | None, before: Any, after: Any, detail: str) -> None:
        conn.execute(
            sa.insert(_audit).values(
                at=now,
                user_id=user_id,
                username=username,
                action=action,
                entity=kind,
                entity_id=entity_id,
                patient_id=None,
                before=before,
                after=after,
                detail=detail,
            )
        )

    if plan.left_alone and (plan.added or record_left_alone):
        left = "; ".join(str(item) for item in plan.left_alone)
        audit("configuration", None, None, None, f"{keys.words} left alone{why}: {left}")
    if not plan.added:
        return plan
    by_entity: dict[tuple[str, str], list[Addition]] = {}
    for a in plan.added:
        by_entity.setdefault((a.kind, a.code), []).append(a)
    for (kind, code), additions in by_entity.items():
        detail = f"{keys.words} added{why}: " + "; ".join(str(a) for a in additions)
        entity_id: int | None = None
        if kind == "setting":
            before = stored.clinic.get(code)
            after = new.clinic[code]
            if before is None:
                conn.execute(sa.insert(_settings).values(key=code, value=after, updated_at=now))
            else:
                conn.execute(
                    sa.update(_settings)
                    .where(_settings.c.key == code)
                    .values(value=after, updated_at=now)
                )
            audit_before, audit_after = {code: before}, {code: after}
        else:
            table = _types if kind == "session_type" else _protocols
            section = "session_types" if kind == "session_type" else "protocols"
            before_raw = stored.session_types if kind == "session_type" else stored.protocols
            after_raw = new.session_types if kind == "session_type" else new.protocols
            audit_before = before_raw[section][code]
            audit_after = after_raw[section][code]
            entity_id = conn.execute(sa.select(table.c.id).where(table.c.code == code)).scalar_one()
            conn.execute(
                sa.update(table).where(table.c.id == entity_id).values(definition=audit_after)
            )
        audit(kind, entity_id, audit_before, audit_after, detail)
    return RulesUpgrade(plan.added, plan.left_alone, written=True)


def add_shipped_scales(
    conn: Connection,
    *,
    now: dt.datetime,
    reason: str = "",
    shipped: RawConfig | None = None,
    record_left_alone: bool = False,
) -> RulesUpgrade:
    """Give each shipped session type the shipped ``scales`` (MOAA/S, CADSS) it lacks, and
    ``[scales]`` its shipped keys, in ``conn``'s transaction: a clinic created before the
    timed scales keeps its session types in its database without them.  A type whose scales
    the clinic set (even to none) is left alone and said so, a type the clinic made is not
    touched; audited as ``SCALES_ACTION`` as ``add_shipped_rules`` audits its own."""
    return add_shipped_rules(
        conn,
        now=now,
        reason=reason,
        shipped=shipped,
        record_left_alone=record_left_alone,
        keys=SHIPPED_SCALES,
        action=SCALES_ACTION,
    )


# -- a safety rule stored "off" ---------------------------------------------------------------

#: The audit action of a clinical safety rule's stored "off" made "warn".
SAFETY_OFF_ACTION = "lift_safety_off"


def lift_safety_off(conn: Connection, *, now: dt.datetime, reason: str = "") -> tuple[str, ...]:
    """Make "warn" each clinical safety rule (``catalog.SAFETY_RULES``) the stored settings have
    "off", in ``conn``'s transaction; the keys changed (``<section>.<rule>``), sorted.

    The loader refuses "off" for those rules, so a clinic that chose it while Settings still
    offered it would not open.  "warn" is the nearest level that is not silent: the step goes
    ahead once a permitted role gives a reason, and the reason is kept.  One audit event per
    section changed, with the value before and after.  Nothing else is touched.
    """
    stored = read_stored_config(conn).clinic
    changed: dict[str, dict[str, Any]] = {}
    for key in sorted(SAFETY_RULES):
        section, rule = key.split(".", 1)
        value = changed.get(section, stored.get(section))
        if isinstance(value, Mapping) and value.get(rule) == "off":
            changed[section] = {**value, rule: "warn"}
    lifted: list[str] = []
    why = f" ({reason})" if reason else ""
    for section, after in changed.items():
        keys = sorted(f"{section}.{r}" for r, v in after.items() if stored[section].get(r) != v)
        lifted += keys
        conn.execute(
            sa.update(_settings)
            .where(_settings.c.key == section)
            .values(value=after, updated_at=now)
        )
        conn.execute(
            sa.insert(_audit).values(
                at=now,
                user_id=None,
                username="",
                action=SAFETY_OFF_ACTION,
                entity="setting",
                entity_id=None,
                patient_id=None,
                before={section: stored[section]},
                after={section: after},
                detail=(
                    f'clinical safety rules stored "off" set to "warn"{why}: ' + ", ".join(keys)
                ),
            )
        )
    return tuple(sorted(lifted))
