"""Late-cancellation and no-show fees: charged inside the status change that owes them, voided
when that change is undone, waived with a reason, and listed.

``charge_for_status_change`` and ``void_for_undo`` run inside the booking service's own
transaction (``booking/appointment_changes.py``), so a cancellation and its fee are written, or
taken back, together.  ``waive_fee`` and ``list_fees`` are use cases of their own: one short
transaction each, checked (``waive_fee`` / ``view_fees``), audited before/after and counted.
The amounts are ``[fees]`` of the clinic's settings (``scheduling/fees.py``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.dates import clock
from ketadesk.scheduling.fees import (
    FEE_KIND_NAMES,
    FEE_STATUS_NAMES,
    FEE_STATUSES,
    OWED,
    VOIDED,
    WAIVED,
    FeeSettings,
    fee_kind_for,
    money,
    parse_fee_settings,
)
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import (
    Actor,
    Database,
    InvalidFields,
    InvalidRequest,
    NotFound,
    utcnow,
)
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import Appointment, Patient, SessionFee, SessionType, User


def fee_settings(catalog: Catalog) -> FeeSettings:
    """The clinic's ``[fees]`` (checked when the configuration was loaded)."""
    return parse_fee_settings(catalog.settings.extra.get("fees"), "database/clinic.toml")


def _snapshot(fee: SessionFee) -> dict[str, Any]:
    return {
        "appointment_id": fee.appointment_id,
        "kind": fee.kind,
        "amount_cents": fee.amount_cents,
        "currency": fee.currency,
        "status": fee.status,
        "waive_reason": fee.waive_reason,
    }


def charge_for_status_change(
    session: Session,
    actor: Actor,
    appointment: Appointment,
    action: str,
    *,
    event_id: int | None,
    catalog: Catalog,
    session_type: str,
    now: dt.datetime,
) -> SessionFee | None:
    """Record the fee a no-show or a late cancellation owes (none for an early cancellation,
    a free session type, or a clinic that charges no fees); audited in the caller's
    transaction, which also bumps the change counter."""
    kind = fee_kind_for(action, late_cancel=appointment.late_cancel)
    if kind is None:
        return None
    settings = fee_settings(catalog)
    cents = settings.amount_cents(kind, session_type)
    if cents <= 0:
        return None
    fee = SessionFee(
        appointment_id=appointment.id,
        patient_id=appointment.patient_id,
        event_id=event_id,
        kind=kind,
        amount_cents=cents,
        currency=settings.currency,
        status=OWED,
        charged_at=now,
        charged_by_id=actor.user_id,
        waive_reason="",
    )
    session.add(fee)
    session.flush()
    audit.record(
        session,
        actor,
        "charge_fee",
        "session_fee",
        fee.id,
        patient_id=appointment.patient_id,
        after=_snapshot(fee),
        now=now,
    )
    return fee


def void_for_undo(session: Session, actor: Actor, appointment_id: int, *, now: dt.datetime) -> int:
    """The cancellation or no-show was taken back: the fee it owed is voided (kept, not
    deleted, so the list shows it was charged once).  Returns how many were voided."""
    owed = session.scalars(
        select(SessionFee).where(
            SessionFee.appointment_id == appointment_id, SessionFee.status == OWED
        )
    ).all()
    for fee in owed:
        before = _snapshot(fee)
        fee.status = VOIDED
        fee.voided_at = now
        audit.record(
            session,
            actor,
            "void_fee",
            "session_fee",
            fee.id,
            patient_id=fee.patient_id,
            before=before,
            after=_snapshot(fee),
            detail="the cancellation or no-show was undone",
            now=now,
        )
    return len(owed)


def waive_fee(
    db: Database, actor: Actor, fee_id: int, reason: str, *, now: dt.datetime | None = None
) -> None:
    """Waive an owed fee, with the reason (kept with the fee and in the audit trail)."""
    require(actor, "waive_fee", db, now=now)
    now = now or utcnow()
    if not reason.strip():
        raise InvalidFields({"reason": "say why the fee is waived"})
    with db.write() as session:
        fee = session.get(SessionFee, fee_id)
        if fee is None:
            raise NotFound(f"no fee #{fee_id}")
        if fee.status != OWED:
            raise InvalidRequest(
                f"fee #{fee_id} is {FEE_STATUS_NAMES[fee.status].lower()}; only an owed fee "
                "can be waived"
            )
        before = _snapshot(fee)
        fee.status = WAIVED
        fee.waived_at = now
        fee.waived_by_id = actor.user_id
        fee.waive_reason = reason.strip()
        session.flush()
        audit.record(
            session,
            actor,
            "waive_fee",
            "session_fee",
            fee.id,
            patient_id=fee.patient_id,
            before=before,
            after=_snapshot(fee),
            detail=reason.strip(),
            now=now,
        )
        session.flush()
        changes.bump(session, now)


@dataclass(frozen=True, slots=True)
class FeeRow:
    """One fee as the list shows it (times local)."""

    id: int
    appointment_id: int
    patient_id: int
    patient_name: str
    chart_number: str
    session_type_name: str
    session_start: dt.datetime
    kind: str
    amount_cents: int
    currency: str
    status: str
    charged_at: dt.datetime
    charged_by: str
    waive_reason: str
    waived_by: str
    #: How the clinic reads a time of day ([clinic] time_format).
    time_format: str = "12h"

    @property
    def session_when(self) -> str:
        """ "Mon 12/07/2026 9:30 AM": the session's start as the list shows and prints it."""
        return f"{self.session_start:%a %m/%d/%Y} {clock(self.session_start, self.time_format)}"

    @property
    def kind_name(self) -> str:
        return FEE_KIND_NAMES[self.kind]

    @property
    def status_name(self) -> str:
        return FEE_STATUS_NAMES[self.status]

    @property
    def amount_text(self) -> str:
        return money(self.amount_cents, self.currency)


@dataclass(frozen=True, slots=True)
class FeeList:
    """The fees of sessions from ``first`` to ``last`` (local dates), and what is owed."""

    first: dt.date
    last: dt.date
    status: str | None
    rows: tuple[FeeRow, ...]

    @property
    def owed_cents(self) -> int:
        return sum(r.amount_cents for r in self.rows if r.status == OWED)

    @property
    def summary(self) -> str:
        owed = [r for r in self.rows if r.status == OWED]
        currency = self.rows[0].currency if self.rows else "USD"
        n = len(self.rows)
        return (
            f"{n} fee{'s' if n != 1 else ''}, {len(owed)} owed: {money(self.owed_cents, currency)}"
        )


def list_fees(
    db: Database,
    actor: Actor,
    first: dt.date,
    last: dt.date,
    *,
    status: str | None = None,
    appointment_id: int | None = None,
    now: dt.datetime | None = None,
) -> FeeList:
    """The fees for sessions from ``first`` to ``last`` (local dates, both included), of one
    ``status`` (owed, waived, voided) or all, earliest session first."""
    require(actor, "view_fees", db, now=now)
    errors: dict[str, str] = {}
    if last < first:
        errors["last"] = f"the range ends ({last:%m/%d/%Y}) before it starts ({first:%m/%d/%Y})"
    if status is not None and status not in FEE_STATUSES:
        errors["status"] = f"must be one of {', '.join(FEE_STATUSES)}, got {status!r}"
    if errors:
        raise InvalidFields(errors)
    charger, waiver = aliased(User), aliased(User)
    with db.read() as session:
        calendar = ClinicCalendar(load_catalog(session).settings)
        start = calendar.day_bounds(first).start
        end = calendar.day_bounds(last).end
        query = (
            select(
                SessionFee,
                Appointment.starts_at,
                Patient.first_name,
                Patient.last_name,
                Patient.chart_number,
                SessionType.name,
                charger.username,
                waiver.username,
            )
            .join(Appointment, Appointment.id == SessionFee.appointment_id)
            .join(Patient, Patient.id == SessionFee.patient_id)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .outerjoin(charger, charger.id == SessionFee.charged_by_id)
            .outerjoin(waiver, waiver.id == SessionFee.waived_by_id)
            .where(Appointment.starts_at >= start, Appointment.starts_at < end)
            .order_by(Appointment.starts_at, SessionFee.id)
        )
        if status is not None:
            query = query.where(SessionFee.status == status)
        if appointment_id is not None:
            query = query.where(SessionFee.appointment_id == appointment_id)
        rows = tuple(
            FeeRow(
                id=fee.id,
                appointment_id=fee.appointment_id,
                patient_id=fee.patient_id,
                patient_name=f"{last_name}, {first_name}",
                chart_number=chart,
                session_type_name=type_name,
                session_start=calendar.local(starts_at),
                kind=fee.kind,
                amount_cents=fee.amount_cents,
                currency=fee.currency,
                status=fee.status,
                charged_at=calendar.local(fee.charged_at),
                charged_by=charged_by or "system",
                waive_reason=fee.waive_reason,
                waived_by=waived_by or "",
                time_format=calendar.settings.time_format,
            )
            for fee, starts_at, first_name, last_name, chart, type_name, charged_by, waived_by in (
                session.execute(query).all()
            )
        )
    return FeeList(first, last, status, rows)
