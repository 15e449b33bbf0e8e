"""The gating rules judged again when a session starts (issue 13: the rules hold at START).

A consent may lapse, a prior authorization expire or run out of units, the site's REMS
certification end, a contraindication be recorded, between the booking and the morning of the
session.  ``judge_start`` judges the session's gating rules (``scheduling/gating.check_gates``,
each as ``[gating]`` sets it: block, warn or off) at the clinic's today, with the patient's facts
as booking reads them (``planning.load_patient_facts``).  The session being started is booked
already: it is left out of the units the prior authorization has spent, so it is not counted
twice.  Overrides on record for the appointment or its series (made at booking or on a move, or
at an earlier start that was undone) still hold; one given now is a role's decision, checked
against ``[protocol_rules] override_roles`` and recorded by ``rule_check.record_overrides``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.gating import Severity, check_gates
from ketadesk.scheduling.protocol_rules import Finding, rule_settings, stopping
from ketadesk.services.booking import rule_check
from ketadesk.services.booking.planning import load_patient_facts
from ketadesk.services.common.context import Actor
from ketadesk.store.clinic_config import StoredConfig
from ketadesk.store.models import Appointment

#: What a refusal says is refused ("starting this session breaks the clinic's rules: ...").
STARTING = "starting this session"


class StartRefused(rule_check.RuleRefused):
    """Starting a session breaks a gating rule.  ``findings`` name each rule and the fact;
    ``override_roles`` may go ahead past the "warn" ones with a reason (``overridable``), none
    past a "block" (``blocked``)."""

    def __init__(self, findings: Sequence[Finding], override_roles: Sequence[str]) -> None:
        super().__init__(findings, override_roles, what=STARTING)
        self.override_roles = tuple(override_roles)

    @property
    def blocked(self) -> bool:
        """A rule that no override lets through."""
        return any(f.severity is Severity.BLOCK for f in self.findings)

    @property
    def overridable(self) -> bool:
        """Every rule that stops the start may be overridden with a reason."""
        return bool(self.findings) and not self.blocked

    def may_override(self, role: str) -> bool:
        return self.overridable and role in self.override_roles


def judge_start(
    session: Session,
    config: StoredConfig,
    appointment: Appointment,
    *,
    now: dt.datetime,
    overrides: Mapping[str, str] | None = None,
) -> list[Finding]:
    """The gating rules that starting ``appointment`` at ``now`` (the clinic's today) breaks,
    with the overrides on record for it and its series and those given now (rule -> reason)."""
    catalog = config.catalog
    spec = catalog.session_types.get(config.session_type_code(appointment.session_type_id))
    if spec is None:
        return []
    facts = load_patient_facts(
        session, appointment.patient_id, catalog, excluding=_not_yet_spent(session, appointment)
    )
    if facts is None:
        return []
    series = [appointment.series_id] if appointment.series_id is not None else []
    given = rule_check.stored_overrides(session, [appointment.id], series)
    given.update({k: v for k, v in (overrides or {}).items() if v.strip()})
    today = ClinicCalendar(catalog.settings).local_date(now)
    return [
        Finding(r.rule, r.severity, r.message, r.override_reason)
        for r in check_gates(spec, facts, [today], catalog.settings, given)
    ]


def _not_yet_spent(session: Session, appointment: Appointment) -> list[int]:
    """The appointments whose units the prior authorization has not spent when ``appointment``
    starts: itself (booked, so counted already) and the patient's sessions after it.  Sessions
    use the authorization in date order (``check_gates``, the day sheet): one booked later does
    not take the units of one starting now."""
    later = session.scalars(
        select(Appointment.id).where(
            Appointment.patient_id == appointment.patient_id,
            (Appointment.starts_at > appointment.starts_at)
            | (
                (Appointment.starts_at == appointment.starts_at) & (Appointment.id > appointment.id)
            ),
        )
    ).all()
    return [appointment.id, *later]


def enforce_start(
    findings: Sequence[Finding],
    actor: Actor,
    config: StoredConfig,
    *,
    fresh: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Raise ``StartRefused`` naming every rule that stops the start (and who may override);
    ``PermissionDenied`` for an override given by a role that may not.  Returns the findings
    overridden now, to record."""
    refused = stopping(findings)
    if refused:
        raise StartRefused(refused, rule_settings(config.catalog.settings).override_roles)
    return rule_check.enforce(findings, actor, config.catalog, fresh=fresh, what=STARTING)
